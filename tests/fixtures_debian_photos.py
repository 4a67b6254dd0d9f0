"""Session fixtures: real photos of whole people, taken from Debian packages.

scikit-image's photos (the astronaut, the cameraman) show no one head to foot, so the pose tests
take two photos from Debian's archive: `apt-get download PACKAGE` (whichever version the
machine's apt lists offer: nothing is installed) into a cache folder, then one file is read out
of the .deb with `dpkg-deb --fsys-tarfile` and checked against its pinned sha256 (the positions
the tests check by hand belong to exactly that picture). With $PINET_TF_TEST_CACHE set the .deb
and the photo are kept there across sessions. When apt cannot fetch the package (no apt, no apt
lists, no network) the tests that need the photo skip, saying so in one line.

- `darknet_person`: darknet 0.0.0+git20180914.61c9d02e (Debian 12: -2+b4),
  /usr/share/darknet/data/person.jpg, 640x424: a person standing in a field seen from behind,
  head to boots, beside a dog and a horse. Debian's /usr/share/doc/darknet/copyright puts every
  file of the package (`Files: *`) under "Copyright: 2018 Joseph Redmon; License: GPL-3.0+ or MIT
  or WTFPL", so the picture may be redistributed (docs/images/keypoints_fullbody.png is drawn
  on it).
- `kphotoalbum_beach`: kphotoalbum 5.9.1 (Debian 12: 5.9.1-1),
  /usr/share/kphotoalbum/demo/cold_water.jpg, 800x533: a man facing the camera, arms out, in
  front of a woman seen from behind and several smaller people on a beach. The package's
  /usr/share/doc/kphotoalbum/copyright: "© 2003-2014 Jesper K. Pedersen ... GPL version 2 or
  later" for the package, its demo album included. Only fetched at test time, never committed.
- `kphotoalbum_pool`: the same package's /usr/share/kphotoalbum/demo/wayne.jpg, 800x600, stored
  on its side (the album's index.xml turns it by 90 degrees): upright, a man facing the camera
  head to shoes with a pool cue, a second man behind him at the pool table.
"""

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile

import pytest

PHOTOS = {
    "darknet_person": ("darknet", "usr/share/darknet/data/person.jpg",
                       "cdcbab947e46110fc2b77784ac54ddbbab2640f1e44cb5e91fc8984a9793a7d1"),
    "kphotoalbum_beach": ("kphotoalbum", "usr/share/kphotoalbum/demo/cold_water.jpg",
                          "1c92d774263012891803360080a03999ffdb4fb643f320d9c106b5a3cbb21306"),
    "kphotoalbum_pool": ("kphotoalbum", "usr/share/kphotoalbum/demo/wayne.jpg",
                         "1e5e3880f65a857181ec98b9fb686e1ebfd03fc6808f002d83aefe758eacece1"),
}


def _sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _download(package: str, member: str, cache: str) -> str:
    """`apt-get download PACKAGE` into a folder of its own, moved into `cache` once complete
    (an interrupted download leaves no .deb behind); skips the test when apt cannot."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip(f"no apt-get / dpkg-deb on this machine to fetch Debian's {package} package "
                    f"(the photo {member})")
    with tempfile.TemporaryDirectory(dir=cache) as folder:
        try:
            run = subprocess.run(["apt-get", "download", "-q", package], cwd=folder,
                                 capture_output=True, text=True, timeout=600)
            why = ([line for line in run.stderr.strip().splitlines()
                    if not line.startswith("W:")] or [f"exit status {run.returncode}"])[-1]
        except subprocess.TimeoutExpired:
            run, why = None, "no answer in 10 minutes"
        debs = [f for f in os.listdir(folder) if f.endswith(".deb")]
        if run is None or run.returncode != 0 or len(debs) != 1:
            pytest.skip(f"apt-get could not download Debian's {package} package (the photo "
                        f"{member}): {why}")
        os.replace(os.path.join(folder, debs[0]), os.path.join(cache, debs[0]))
    return os.path.join(cache, debs[0])


def debian_photo(key: str, tmp_path_factory) -> str:
    """The photo `key` of PHOTOS, fetched with apt-get download once per cache folder."""
    package, member, sha256 = PHOTOS[key]
    root = os.environ.get("PINET_TF_TEST_CACHE")
    cache = (os.path.join(root, "debian-photos") if root
             else str(tmp_path_factory.mktemp("debian-photos")))
    os.makedirs(cache, exist_ok=True)
    photo = os.path.join(cache, f"{package}_{os.path.basename(member)}")
    if os.path.isfile(photo) and _sha256(photo) == sha256:
        return photo
    debs = sorted(f for f in os.listdir(cache) if f.startswith(package + "_") and
                  f.endswith(".deb"))
    deb = os.path.join(cache, debs[-1]) if debs else _download(package, member, cache)
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], capture_output=True, timeout=300,
                         check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        data = t.extractfile("./" + member).read()
    with open(photo + ".part", "wb") as out:
        out.write(data)
    os.replace(photo + ".part", photo)
    assert _sha256(photo) == sha256, f"{member} in {deb} is not the pinned picture"
    return photo


@pytest.fixture(scope="session")
def darknet_person(tmp_path_factory):
    """Debian's darknet/data/person.jpg: one person standing, head to boots (see above)."""
    return debian_photo("darknet_person", tmp_path_factory)


@pytest.fixture(scope="session")
def kphotoalbum_beach(tmp_path_factory):
    """Debian's kphotoalbum demo/cold_water.jpg: a man in front, a woman behind (see above)."""
    return debian_photo("kphotoalbum_beach", tmp_path_factory)


@pytest.fixture(scope="session")
def kphotoalbum_pool(tmp_path_factory):
    """Debian's kphotoalbum demo/wayne.jpg, stored on its side: two men at a pool table."""
    return debian_photo("kphotoalbum_pool", tmp_path_factory)

"""One pinned set everywhere: the Makefile, conda's environment.yml, Binder, and the GPU lock agree."""

import re
import subprocess
from pathlib import Path

import yaml


def pins(path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)", path.read_text(), flags=re.M)
    return {name.lower().replace("_", "-"): version for name, version in found}


def test_the_gpu_lock_is_the_cpu_set_with_jaxs_cuda_build(root):
    cpu, gpu = pins(root / "requirements.lock"), pins(root / "requirements-cuda.lock")
    assert len(cpu) > 100
    differ = {name: (version, gpu.get(name)) for name, version in cpu.items() if gpu.get(name) != version}
    assert not differ, f"the GPU lock pins other versions: {differ}"
    assert gpu["jax-cuda12-plugin"] == gpu["jax-cuda12-pjrt"] == cpu["jax"]
    assert all(name.startswith(("jax-cuda", "nvidia-")) for name in set(gpu) - set(cpu))


def test_make_installs_the_lock_of_the_device(root):
    def dry_run(*args):
        return subprocess.run(["make", "-n", "-B", "book", *args], cwd=root, capture_output=True, text=True)

    book = dry_run().stdout
    assert "-r requirements.lock" in book and '-e ".[book,dev]" -c requirements.lock' in book
    assert "--no-deps" not in book  # the package's own dependencies are installed, held to the lock
    cuda = dry_run("DEVICE=cuda")
    assert cuda.returncode == 0 and "-r requirements-cuda.lock" in cuda.stdout
    wrong = dry_run("DEVICE=tpu")
    assert wrong.returncode != 0 and "DEVICE must be cpu or cuda, got 'tpu'" in wrong.stderr
    assert "--profile paper64 --beside small" in book and "--no-release" not in book
    assert "--profile paper64 --beside small --no-release" in dry_run("RETRAIN=1").stdout  # from scratch


def test_book_unpacks_the_release_named_else_the_profiles_unless_told_not_to(tmp_path, monkeypatch, cli):
    from paperlib.__main__ import release_to_unpack

    monkeypatch.chdir(tmp_path)
    assert release_to_unpack("paper64", None, False) is None  # no data/releases/paper64 here
    (tmp_path / "data" / "releases" / "paper64").mkdir(parents=True)
    assert release_to_unpack("paper64", None, False) == Path("data/releases/paper64")
    assert release_to_unpack("paper64", Path("elsewhere"), False) == Path("elsewhere")
    assert release_to_unpack("paper64", None, True) is None
    both = cli("book", "--profile", "tiny", "--release", "x", "--no-release")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr  # named before any work


def test_conda_and_binder_install_the_same_pinned_set(root):
    conda = yaml.safe_load((root / "environment.yml").read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert "-r requirements.lock" in pip and "-e .[book,dev]" in pip
    assert "python=3.11" in conda["dependencies"]
    binder = (root / "binder" / "requirements.txt").read_text().split()
    assert binder[-2:] == ["-r", "../requirements.lock"]  # nested -r is relative to binder/
    assert 'pip install -e ".[book]" -c requirements.lock' in (root / "binder" / "postBuild").read_text()
    assert (root / "binder" / "runtime.txt").read_text().strip() == "python-3.11"

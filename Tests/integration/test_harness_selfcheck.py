"""The checks used against voxfs pass on a correct tree and fail on wrong ones.

The "correct" tree is the contract written out with PIL/tifffile/numpy by
fake_layer.py; no voxfs needed."""

from __future__ import annotations

import numpy as np
import pytest

import checks as C
import fake_layer

SELF_CHECKED = ["cv/u16", "cv/f32", "cv/u8jpeg", "ts/rgba", "ts/u8x2"]


def run_all_checks(layer, vol, refs):
    for mip in range(len(vol.info["scales"])):
        ref = refs(mip)
        C.check_listing(layer, vol, mip, check_order=False)
        C.check_volume_npy(layer, vol, mip, ref)
        for z in C.interesting_z(vol.z_range(mip), vol.scale(mip)["chunk_sizes"][0][2]):
            for ext in vol.spec.formats:
                C.check_slice(layer, vol, mip, z, ext, ref)


@pytest.mark.parametrize("name", SELF_CHECKED)
def test_checks_pass_on_contract_tree(name, volumes, references, tmp_path):
    vol = volumes[name]
    refs = lambda mip: references(name, mip)  # noqa: E731
    layer = fake_layer.build(tmp_path / name, vol, refs)
    run_all_checks(layer, vol, refs)


def _mutations(vol, refs):
    from volumes import expected_slice

    zr = vol.z_range(0)
    lossy = vol.spec.lossy

    def wrong_z(kind, mip, z, a):  # first slice of mip 0 holds the data of the next z
        return expected_slice(refs(0), 1) if (kind, mip, z) == ("slice", 0, zr[0]) else a

    def transposed(kind, mip, z, a):
        return np.ascontiguousarray(np.swapaxes(a, 0, 1)) if kind == "slice" else a

    def bump(a, idx):
        a = a.copy()
        if a.dtype.kind == "f":
            a.view(f"u{a.dtype.itemsize}")[idx] ^= 1  # flip one mantissa bit
        else:
            step = 2 if lossy else 1
            a[idx] = a[idx] + step if a[idx] < 100 else a[idx] - step
        return a

    def one_voxel_slice(kind, mip, z, a):  # only the last slice of the last scale
        last = len(vol.info["scales"]) - 1
        if (kind, mip, z) == ("slice", last, vol.z_range(last)[-1]):
            return bump(a, (a.shape[0] - 1, a.shape[1] // 2) + (0,) * (a.ndim - 2))
        return a

    def one_voxel_volume(kind, mip, z, a):
        return bump(a, (a.shape[0] // 2, 3, a.shape[2] - 1) + (0,) * (a.ndim - 3)) if kind == "volume" else a

    def volume_yx_swapped(kind, mip, z, a):
        return np.ascontiguousarray(np.swapaxes(a, 1, 2)) if kind == "volume" else a

    return {"wrong_z": wrong_z, "transposed": transposed, "one_voxel_slice": one_voxel_slice,
            "one_voxel_volume": one_voxel_volume, "volume_yx_swapped": volume_yx_swapped}


@pytest.mark.parametrize("mutation", ["wrong_z", "transposed", "one_voxel_slice", "one_voxel_volume", "volume_yx_swapped"])
@pytest.mark.parametrize("name", ["cv/u16", "cv/f32", "ts/rgba", "cv/u8jpeg"])
def test_checks_fail_on_wrong_tree(name, mutation, volumes, references, tmp_path):
    vol = volumes[name]
    refs = lambda mip: references(name, mip)  # noqa: E731
    layer = fake_layer.build(tmp_path / name, vol, refs, mutate=_mutations(vol, refs)[mutation])
    with pytest.raises(AssertionError):
        run_all_checks(layer, vol, refs)


def test_jpeg_tolerance_is_one(volumes, references, tmp_path):
    name = "cv/u8jpeg"
    vol = volumes[name]
    ref = references(name, 0)
    exp = ref[:, :, 0, 0].T
    off_by_one = exp.astype(np.int16) + np.where(exp < 128, 1, -1)
    with pytest.warns(UserWarning):
        C.assert_same(off_by_one.astype(np.uint8), exp, lossy=True)
    with pytest.raises(AssertionError):
        C.assert_same((off_by_one + np.where(exp < 128, 1, -1)).astype(np.uint8), exp, lossy=True)
    with pytest.raises(AssertionError):
        C.assert_same(off_by_one.astype(np.uint8), exp, lossy=False)


def test_listing_check_catches_unpadded_names(volumes, references, tmp_path):
    name = "cv/u16"  # z 95..134: padded to 3 digits
    vol = volumes[name]
    refs = lambda mip: references(name, mip)  # noqa: E731
    layer = fake_layer.build(tmp_path / name, vol, refs)
    d = layer / vol.scale(0)["key"]
    (d / "z095.png").rename(d / "z95.png")
    with pytest.raises(AssertionError):
        C.check_listing(layer, vol, 0, check_order=False)

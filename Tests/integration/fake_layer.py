"""Build, in plain Python, the directory tree voxfs is supposed to present for
one layer (the contract, written out with PIL/tifffile/numpy), so the checks
can be shown to pass on right files and to fail on wrong ones without voxfs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from checks import slice_name, z_width
from volumes import Volume, expected_slice, expected_volume


def write_slice(path: Path, arr: np.ndarray, ext: str) -> None:
    if ext == "png":
        from PIL import Image

        Image.fromarray(arr).save(path, format="PNG")
    elif ext == "tif":
        import tifffile

        photometric = "rgb" if arr.ndim == 3 and arr.shape[2] in (3, 4) else "minisblack"
        extrasamples = ("unassalpha",) if arr.ndim == 3 and arr.shape[2] == 4 else None
        tifffile.imwrite(path, arr, photometric=photometric, planarconfig="contig",
                         extrasamples=extrasamples, compression=None)
    elif ext == "npy":
        np.save(path, np.ascontiguousarray(arr))
    else:
        raise ValueError(ext)


def build(layer: Path, vol: Volume, refs, mutate=None) -> Path:
    """``refs(mip)`` gives the (X, Y, Z, C) reference of a scale.

    ``mutate(kind, mip, z, arr) -> arr`` may corrupt what gets written
    (kind is "slice" or "volume").
    """
    mutate = mutate or (lambda kind, mip, z, arr: arr)
    layer.mkdir(parents=True, exist_ok=True)
    (layer / "info").write_text(json.dumps(vol.info))
    for mip in range(len(vol.info["scales"])):
        ref = refs(mip)
        d = layer / vol.scale(mip)["key"]
        d.mkdir(exist_ok=True)
        zr = vol.z_range(mip)
        for z in zr:
            arr = mutate("slice", mip, z, expected_slice(ref, z - zr[0]))
            for ext in vol.spec.formats:
                write_slice(d / slice_name(z, z_width(zr), ext), arr, ext)
        np.save(d / "volume.npy", mutate("volume", mip, None, np.ascontiguousarray(expected_volume(ref))))
        (d / "cutout").mkdir(exist_ok=True)  # voxfs's lookup-only cutout directory lists empty
    return layer

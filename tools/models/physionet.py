"""PhysioNet EEGMMIDB S001 motor-imagery epochs, prepared exactly as the Go decoder sees them online.

Online the pipeline band-passes the continuous stream with a causal Butterworth filter (dsp.Butter +
SOSFilt, bit-compatible with scipy.signal.sosfilt) before the decoder gets its window, so training uses
the same causal filter on the whole run and only then cuts epochs 0.5-2.5 s after each T1/T2 cue.
"""
import os

import mne
import numpy as np
import scipy.signal

FS_HZ = 160.0
BAND_HZ = (8.0, 30.0)
TMIN_SEC, TMAX_SEC = 0.5, 2.5
WINDOW_SAMPLES = int(round((TMAX_SEC - TMIN_SEC) * FS_HZ))  # 320

# The pairs named in the native-decoders issue: (train runs, test runs, label of T1, label of T2).
PAIRS = {
    "imagined-lr": (["R04"], ["R08"], "left", "right"),
    "imagined-fists-feet": (["R06"], ["R10"], "fists", "feet"),
    "real-lr": (["R03", "R07"], ["R11"], "left", "right"),
}


def data_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "..", "shared", "data")
    return os.path.join(os.environ.get("NEUROSTREAM_DATA", default), "physionet_eegmmidb_S001")


def read_run(run):
    raw = mne.io.read_raw_edf(os.path.join(data_dir(), f"S001{run}.edf"), preload=True, verbose=False)
    return raw


def epochs(runs, shifts_sec=(0.0,)):
    """Returns (X volts float64 [n, 64, 320], y in {0,1}, channel names).

    shifts_sec moves the window start relative to cue+0.5 s; training uses several shifts (crops, a
    time-shift augmentation that multiplies the 15 trials a run has), testing uses only 0.
    """
    sos = scipy.signal.butter(4, BAND_HZ, btype="bandpass", fs=FS_HZ, output="sos")
    xs, ys = [], []
    names = None
    for run in runs:
        raw = read_run(run)
        names = raw.ch_names
        data = scipy.signal.sosfilt(sos, raw.get_data(), axis=-1)
        for onset, desc in zip(raw.annotations.onset, raw.annotations.description):
            if desc not in ("T1", "T2"):
                continue
            for shift in shifts_sec:
                start = int(round(onset * FS_HZ)) + int(round((TMIN_SEC + shift) * FS_HZ))
                if start < 0 or start + WINDOW_SAMPLES > data.shape[1]:
                    continue
                xs.append(data[:, start:start + WINDOW_SAMPLES])
                ys.append(0 if desc == "T1" else 1)
    return np.stack(xs), np.array(ys), names

#!/usr/bin/python3
"""A liblsl peer for neurostream's LSL interoperability tests and `neurostream bench lsl`.

Drives the real liblsl (the shared library from tools/install-liblsl.sh) through ctypes, so tests can
check neurostream's pure-Go LSL code against the reference implementation in both directions.
Standard library only (Debian's /usr/bin/python3).

  lsl_peer.py LIB outlet NAME FORMAT CHANNELS RATE COUNT [SOURCE_ID]
      an outlet with channel metadata; waits for a consumer, pushes COUNT samples of the test
      signal (first half one sample at a time with explicit timestamps, the rest in 10-sample chunks
      with deduced timestamps), prints "pushed", then stays up until killed.
  lsl_peer.py LIB inlet PREDICATE COUNT
      resolves with lsl_resolve_bypred, pulls COUNT samples with lsl_pull_chunk_d (or pull_sample_str)
      and prints one JSON object: values, timestamps, time_correction, info.
  lsl_peer.py LIB bench-outlet NAME CHANNELS RATE SECONDS CHUNK [PACED [LABELS]]
      pushes float32 samples in CHUNK-sample chunks, in real time (PACED 1, the default) or as fast
      as it can (0), each chunk stamped with lsl_local_clock() at push (latency = receive clock -
      timestamp on the same host); LABELS (comma-separated) names the channels.
      The "pushed" line gives the samples, the seconds and the process CPU seconds of the pushing.
  lsl_peer.py LIB bench-inlet PREDICATE SECONDS [EXPECT]
      liblsl's own inlet on such a stream: prints JSON with per-chunk latencies, the sample count, the
      samples of the first pull and the process CPU seconds from the first pull to the last; stops early once EXPECT samples came (or
      nothing came for 2 s after the first).
"""
import ctypes as C
import json
import sys
import time

FORMATS = {"float32": 1, "double64": 2, "string": 3, "int32": 4, "int16": 5, "int8": 6, "int64": 7}


def value(fmt, s, k):
    """The test signal: exact in every format (the Go test computes the same)."""
    if fmt in ("float32", "double64"):
        return s * 0.5 + k * 0.25 - 17.125
    return ((s * 7 + k * 13) % 200) - 100


def load(path):
    lib = C.CDLL(path)
    lib.lsl_create_streaminfo.restype = C.c_void_p
    lib.lsl_create_streaminfo.argtypes = [C.c_char_p, C.c_char_p, C.c_int, C.c_double, C.c_int, C.c_char_p]
    lib.lsl_get_desc.restype = C.c_void_p
    lib.lsl_get_desc.argtypes = [C.c_void_p]
    lib.lsl_append_child.restype = C.c_void_p
    lib.lsl_append_child.argtypes = [C.c_void_p, C.c_char_p]
    lib.lsl_append_child_value.restype = C.c_void_p
    lib.lsl_append_child_value.argtypes = [C.c_void_p, C.c_char_p, C.c_char_p]
    lib.lsl_create_outlet.restype = C.c_void_p
    lib.lsl_create_outlet.argtypes = [C.c_void_p, C.c_int, C.c_int]
    lib.lsl_wait_for_consumers.argtypes = [C.c_void_p, C.c_double]
    lib.lsl_local_clock.restype = C.c_double
    lib.lsl_get_info.restype = C.c_void_p
    lib.lsl_get_info.argtypes = [C.c_void_p]
    lib.lsl_get_uid.restype = C.c_char_p
    lib.lsl_get_uid.argtypes = [C.c_void_p]
    lib.lsl_resolve_bypred.argtypes = [C.POINTER(C.c_void_p), C.c_uint, C.c_char_p, C.c_int, C.c_double]
    lib.lsl_create_inlet.restype = C.c_void_p
    lib.lsl_create_inlet.argtypes = [C.c_void_p, C.c_int, C.c_int, C.c_int]
    lib.lsl_open_stream.argtypes = [C.c_void_p, C.c_double, C.POINTER(C.c_int)]
    lib.lsl_time_correction.restype = C.c_double
    lib.lsl_time_correction.argtypes = [C.c_void_p, C.c_double, C.POINTER(C.c_int)]
    lib.lsl_pull_chunk_d.restype = C.c_ulong
    lib.lsl_pull_chunk_d.argtypes = [C.c_void_p, C.POINTER(C.c_double), C.POINTER(C.c_double), C.c_ulong, C.c_ulong, C.c_double, C.POINTER(C.c_int)]
    lib.lsl_pull_chunk_f.restype = C.c_ulong
    lib.lsl_pull_chunk_f.argtypes = [C.c_void_p, C.POINTER(C.c_float), C.POINTER(C.c_double), C.c_ulong, C.c_ulong, C.c_double, C.POINTER(C.c_int)]
    lib.lsl_pull_sample_str.restype = C.c_double
    lib.lsl_pull_sample_str.argtypes = [C.c_void_p, C.POINTER(C.c_char_p), C.c_int, C.c_double, C.POINTER(C.c_int)]
    lib.lsl_get_fullinfo.restype = C.c_void_p
    lib.lsl_get_fullinfo.argtypes = [C.c_void_p, C.c_double, C.POINTER(C.c_int)]
    lib.lsl_get_xml.restype = C.c_void_p
    lib.lsl_get_xml.argtypes = [C.c_void_p]
    lib.lsl_get_channel_count.argtypes = [C.c_void_p]
    lib.lsl_get_channel_format.argtypes = [C.c_void_p]
    lib.lsl_get_nominal_srate.restype = C.c_double
    lib.lsl_get_nominal_srate.argtypes = [C.c_void_p]
    for name, ctype in (("ftp", C.c_float), ("dtp", C.c_double), ("ctp", C.c_int8), ("stp", C.c_int16), ("itp", C.c_int32), ("ltp", C.c_int64)):
        f = getattr(lib, "lsl_push_sample_" + name)
        f.argtypes = [C.c_void_p, C.POINTER(ctype), C.c_double, C.c_int]
        g = getattr(lib, "lsl_push_chunk_" + name)
        g.argtypes = [C.c_void_p, C.POINTER(ctype), C.c_ulong, C.c_double, C.c_int]
    lib.lsl_push_sample_strtp.argtypes = [C.c_void_p, C.POINTER(C.c_char_p), C.c_double, C.c_int]
    return lib


CTYPES = {"float32": (C.c_float, "ftp"), "double64": (C.c_double, "dtp"), "int8": (C.c_int8, "ctp"),
          "int16": (C.c_int16, "stp"), "int32": (C.c_int32, "itp"), "int64": (C.c_int64, "ltp")}


def make_info(lib, name, fmt, nch, rate, source_id, typ=b"EEG", labels=None):
    info = lib.lsl_create_streaminfo(name.encode(), typ, nch, rate, FORMATS[fmt], source_id.encode())
    desc = lib.lsl_get_desc(info)
    lib.lsl_append_child_value(desc, b"manufacturer", b"liblsl test peer")
    chans = lib.lsl_append_child(desc, b"channels")
    for k in range(nch):
        ch = lib.lsl_append_child(chans, b"channel")
        label = labels[k] if labels else "Ch%d" % (k + 1)
        lib.lsl_append_child_value(ch, b"label", label.encode())
        lib.lsl_append_child_value(ch, b"unit", b"microvolts")
        lib.lsl_append_child_value(ch, b"type", b"EEG")
        loc = lib.lsl_append_child(ch, b"location")
        for axis, v in zip((b"X", b"Y", b"Z"), (k, -k, 2.5 * k)):
            lib.lsl_append_child_value(loc, axis, repr(float(v)).encode())
    return info


def outlet(lib, name, fmt, nch, rate, count, source_id):
    info = make_info(lib, name, fmt, nch, rate, source_id, b"Markers" if fmt == "string" else b"EEG")
    out = lib.lsl_create_outlet(info, 0, 360)
    uid = lib.lsl_get_uid(lib.lsl_get_info(out)).decode()
    print("ready", uid, flush=True)
    while not lib.lsl_wait_for_consumers(out, 1.0):
        pass
    time.sleep(0.2)
    t0 = 1000.0
    if fmt == "string":
        for s in range(count):
            vals = (C.c_char_p * nch)(*[("m%d-%d" % (s, k)).encode() for k in range(nch)])
            lib.lsl_push_sample_strtp(out, vals, t0 + s * 0.5, 1)
    else:
        ctype, suffix = CTYPES[fmt]
        push_sample = getattr(lib, "lsl_push_sample_" + suffix)
        push_chunk = getattr(lib, "lsl_push_chunk_" + suffix)
        half = count // 2
        for s in range(half):
            buf = (ctype * nch)(*[value(fmt, s, k) for k in range(nch)])
            push_sample(out, buf, t0 + s / rate, 1)
        s = half
        while s < count:
            n = min(10, count - s)
            buf = (ctype * (n * nch))(*[value(fmt, s + i, k) for i in range(n) for k in range(nch)])
            # liblsl stamps a chunk with the time of its last sample and deduces the others.
            push_chunk(out, buf, n * nch, t0 + (s + n - 1) / rate, 1)
            s += n
    print("pushed", flush=True)
    while True:
        time.sleep(1)


def resolve(lib, pred, timeout=10.0):
    buf = (C.c_void_p * 8)()
    n = lib.lsl_resolve_bypred(buf, 8, pred.encode(), 1, timeout)
    if n < 1:
        raise SystemExit("no stream matches %s" % pred)
    return buf[0]


def inlet(lib, pred, count):
    info = resolve(lib, pred)
    inl = lib.lsl_create_inlet(info, 360, 0, 1)
    ec = C.c_int(0)
    lib.lsl_open_stream(inl, 10.0, C.byref(ec))
    if ec.value:
        raise SystemExit("lsl_open_stream: error %d" % ec.value)
    full = lib.lsl_get_fullinfo(inl, 5.0, C.byref(ec))
    xml = C.cast(lib.lsl_get_xml(full), C.c_char_p).value.decode()
    nch = lib.lsl_get_channel_count(full)
    fmt = lib.lsl_get_channel_format(full)
    tc = lib.lsl_time_correction(inl, 5.0, C.byref(ec))
    values, stamps = [], []
    deadline = time.time() + 30
    if fmt == FORMATS["string"]:
        buf = (C.c_char_p * nch)()
        while len(stamps) < count and time.time() < deadline:
            ts = lib.lsl_pull_sample_str(inl, buf, nch, 1.0, C.byref(ec))
            if ts:
                stamps.append(ts)
                values.extend(buf[k].decode() for k in range(nch))
    else:
        data = (C.c_double * (1024 * nch))()
        tsb = (C.c_double * 1024)()
        while len(stamps) < count and time.time() < deadline:
            n = lib.lsl_pull_chunk_d(inl, data, tsb, 1024 * nch, 1024, 1.0, C.byref(ec))
            samples = n // nch
            values.extend(data[: samples * nch])
            stamps.extend(tsb[:samples])
    print(json.dumps({"values": values, "timestamps": stamps, "time_correction": tc, "error": ec.value,
                      "channels": nch, "format": fmt, "info": xml, "clock": lib.lsl_local_clock()}), flush=True)


def bench_outlet(lib, name, nch, rate, seconds, chunk, paced=True, labels=None):
    info = make_info(lib, name, "float32", nch, rate, "bench-" + name, labels=labels)
    out = lib.lsl_create_outlet(info, 0, 360)
    print("ready", flush=True)
    while not lib.lsl_wait_for_consumers(out, 1.0):
        pass
    time.sleep(0.5)
    buf = (C.c_float * (chunk * nch))(*[float(i % 97) for i in range(chunk * nch)])
    total = int(seconds * rate)
    start, cpu0 = time.monotonic(), time.process_time()
    s = 0
    while s < total:
        due = start + s / rate
        now = time.monotonic()
        if paced and due > now:
            time.sleep(due - now)
        n = min(chunk, total - s)
        lib.lsl_push_chunk_ftp(out, buf, n * nch, lib.lsl_local_clock(), 1)
        s += n
    print("pushed %d %.3f %.3f" % (s, time.monotonic() - start, time.process_time() - cpu0), flush=True)
    while True:
        time.sleep(1)


def bench_inlet(lib, pred, seconds, expect=0):
    info = resolve(lib, pred)
    nch = lib.lsl_get_channel_count(info)
    inl = lib.lsl_create_inlet(info, 360, 0, 1)
    ec = C.c_int(0)
    lib.lsl_open_stream(inl, 10.0, C.byref(ec))
    print("ready", flush=True)
    cap = min(65536, max(1024, (1 << 22) // nch))  # at most 16 MiB of floats
    data = (C.c_float * (cap * nch))()
    tsb = (C.c_double * cap)()
    lat, count, first, last = [], 0, 0.0, 0.0
    cpu_first = cpu_last = 0.0
    first_samples = 0
    end = time.time() + seconds
    while time.time() < end and not (expect and count >= expect):
        if expect and first and lib.lsl_local_clock() - last > 2.0:
            break  # nothing for 2 s: what is missing was lost
        n = lib.lsl_pull_chunk_f(inl, data, tsb, cap * nch, cap, 0.2, C.byref(ec))
        now = lib.lsl_local_clock()
        samples = n // nch
        if samples:
            # Each pushed chunk carries the push time on its last sample; the newest one pulled is
            # the one whose latency this pull measures.
            lat.append(now - tsb[samples - 1])
            count += samples
            if not first:
                first, cpu_first, first_samples = now, time.process_time(), samples
            last, cpu_last = now, time.process_time()
    print(json.dumps({"samples": count, "latencies": lat, "elapsed": last - first, "cpu": cpu_last - cpu_first,
                      "first_samples": first_samples}), flush=True)


def main():
    lib = load(sys.argv[1])
    mode, args = sys.argv[2], sys.argv[3:]
    if mode == "outlet":
        outlet(lib, args[0], args[1], int(args[2]), float(args[3]), int(args[4]), args[5] if len(args) > 5 else "")
    elif mode == "inlet":
        inlet(lib, args[0], int(args[1]))
    elif mode == "bench-outlet":
        paced = len(args) <= 5 or args[5] != "0"
        labels = args[6].split(",") if len(args) > 6 else None
        bench_outlet(lib, args[0], int(args[1]), float(args[2]), float(args[3]), int(args[4]), paced, labels)
    elif mode == "bench-inlet":
        bench_inlet(lib, args[0], float(args[1]), int(args[2]) if len(args) > 2 else 0)
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Independent XDF 1.0 chunk parser (no pyxdf in Debian) to cross-check files neurostream writes.

Usage: /usr/bin/python3 tools/xdf_check.py FILE.xdf
Prints one JSON object: per stream id its header fields, sample count, first/last timestamp, the first
samples of numeric streams and the string values of marker streams, and its footer sample_count.
"""
import json
import struct
import sys
import xml.etree.ElementTree as ET

FMT = {'float32': 'f', 'double64': 'd', 'int8': 'b', 'int16': 'h', 'int32': 'i', 'int64': 'q'}


def varlen(buf, pos):
    n = buf[pos]
    fmt = {1: '<B', 4: '<I', 8: '<Q'}[n]
    return struct.unpack_from(fmt, buf, pos + 1)[0], pos + 1 + n


def main(path):
    buf = open(path, 'rb').read()
    assert buf[:4] == b'XDF:', 'no XDF magic'
    pos, streams = 4, {}
    while pos < len(buf):
        length, pos = varlen(buf, pos)
        tag = struct.unpack_from('<H', buf, pos)[0]
        body, end = buf[pos + 2:pos + length], pos + length
        pos = end
        if tag in (2, 3, 4, 6):
            sid = struct.unpack_from('<I', body)[0]
            body = body[4:]
        if tag == 2:
            root = ET.fromstring(body.decode())
            streams[sid] = {
                'name': root.findtext('name'), 'type': root.findtext('type'),
                'channel_count': int(root.findtext('channel_count')),
                'nominal_srate': float(root.findtext('nominal_srate')),
                'channel_format': root.findtext('channel_format'),
                'labels': [c.findtext('label') for c in root.iter('channel')],
                'n': 0, 't': [], 'values': []}
        elif tag == 3:
            s = streams[sid]
            n, p = varlen(body, 0)
            for _ in range(n):
                if body[p] == 8:
                    t = struct.unpack_from('<d', body, p + 1)[0]
                    p += 9
                else:
                    t = s['t'][-1] + 1.0 / s['nominal_srate']
                    p += 1
                s['t'].append(t)
                if s['channel_format'] == 'string':
                    row = []
                    for _ in range(s['channel_count']):
                        ln, p = varlen(body, p)
                        row.append(body[p:p + ln].decode())
                        p += ln
                else:
                    f = FMT[s['channel_format']]
                    row = list(struct.unpack_from('<%d%s' % (s['channel_count'], f), body, p))
                    p += struct.calcsize(f) * s['channel_count']
                s['n'] += 1
                if s['channel_format'] == 'string' or len(s['values']) < 5:
                    s['values'].append(row)
        elif tag == 6:
            streams[sid]['footer_sample_count'] = int(ET.fromstring(body.decode()).findtext('sample_count'))
    out = {}
    for sid, s in streams.items():
        t = s.pop('t')
        s['first_t'], s['last_t'] = (t[0], t[-1]) if t else (None, None)
        out[str(sid)] = s
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1])

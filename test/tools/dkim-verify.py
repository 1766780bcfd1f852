#!/usr/bin/python3
"""Independent DKIM verifier for the tests: dkimpy (Debian python3-dkim), keys looked up over
real DNS at 127.0.0.1:PORT. Reads one message on stdin; prints one JSON line per DKIM-Signature:
{"d": ..., "a": ..., "ok": true|false}. Exit 0 if every signature verifies."""
import json
import sys

import dkim
import dns.resolver

port = int(sys.argv[1])
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ['127.0.0.1']
resolver.port = port


def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    try:
        answer = resolver.resolve(name.rstrip('.'), 'TXT', lifetime=timeout)
    except Exception:
        return None
    return b''.join(b''.join(r.strings) for r in answer)


message = sys.stdin.buffer.read()
d = dkim.DKIM(message)
count = len([h for h in d.headers if h[0].lower() == b'dkim-signature'])
ok_all = count > 0
for idx in range(count):
    error = None
    try:
        ok = bool(d.verify(idx=idx, dnsfunc=dnsfunc))
    except dkim.DKIMException as e:
        ok, error = False, str(e)
    sig = d.signature_fields or {}
    print(json.dumps({'d': sig.get(b'd', b'').decode(), 'a': sig.get(b'a', b'').decode(),
                      'h': sig.get(b'h', b'').decode(), 'ok': ok, 'error': error}))
    ok_all = ok_all and ok
sys.exit(0 if ok_all else 1)

"""Frames and error encodings shared with Go (internal/wire/PROTOCOL.md).

frame = uint32 BE N | uint8 type | uint64 BE request id | CBOR body (N-9 bytes)
"""
import os
import struct
import threading

import cbor2

VERSION = 1
DEFAULT_MAX_FRAME = 64 << 20

# Message types (internal/wire/messages.go).
HELLO = 0x01
HELLO_OK = 0x02
HELLO_ERR = 0x03
RUN = 0x04
CREATE_ACTOR = 0x05
CALL_ACTOR = 0x06
RESULT = 0x07
CANCEL = 0x08
SHUTDOWN = 0x09
RELEASE_ACTOR = 0x0A
SUBMIT = 0x10
PUT = 0x11
GET = 0x12
WAIT = 0x13
CANCEL_TASK = 0x14
CREATE_ACTOR_NESTED = 0x15
GET_ACTOR = 0x16
CALL_ACTOR_NESTED = 0x17
KILL_ACTOR = 0x18
RELEASE = 0x19

# Bridge-only types (backend/ray/messages.go): the Go driver talks to the bridge with the
# nested-request vocabulary above plus these.
B_HELLO = 0x40  # Go -> bridge: connect; answered by B_READY or RESULT{e}
B_READY = 0x41  # bridge -> Go
B_SUBMIT = 0x42  # one-way submit with a driver-chosen object id
B_PUT = 0x43  # one-way put with a driver-chosen object id
B_CALL = 0x44  # one-way actor call with a driver-chosen object id
B_NODES = 0x45  # request: alive nodes' total resources; answered by B_READY-like RESULT

_HDR = struct.Struct(">IBQ")


def _head(major, n):
    """A CBOR head (definite length)."""
    m = major << 5
    if n < 24:
        return bytes((m | n,))
    if n <= 0xFF:
        return bytes((m | 24, n))
    if n <= 0xFFFF:
        return bytes((m | 25,)) + n.to_bytes(2, "big")
    if n <= 0xFFFFFFFF:
        return bytes((m | 26,)) + n.to_bytes(4, "big")
    return bytes((m | 27,)) + n.to_bytes(8, "big")


_OS_KEY = b"\xa1\x62os"  # {"os": ...
_D_KEY = b"\xa1\x61d"  # {"d": ...


def _objects_parts(objs):
    """The CBOR of {"os": objs} as a list of parts in which large values are their own
    buffers (not copied), or None when objs is not a list of {"d": bytes} or {"e": bytes}."""
    parts = [_OS_KEY + _head(4, len(objs))]
    small = []
    for o in objs:
        if type(o) is not dict or len(o) != 1:
            return None
        k, v = next(iter(o.items()))
        if k not in ("d", "e") or type(v) is not bytes:
            return None
        h = (b"\xa1\x61" + k.encode()) + _head(2, len(v))
        if len(v) < 65536:
            parts[-1] += h + v
        else:
            parts[-1] += h
            parts.append(v)
            parts.append(b"")
    if not parts[-1]:
        parts.pop()
    return parts


class Closed(Exception):
    """The peer closed the stream."""


F_SETPIPE_SZ = 1031


def grow_pipe(fd, size=1 << 20):
    """Enlarges a pipe's buffer (Linux) so large frames cross in fewer rounds."""
    try:
        import fcntl
        fcntl.fcntl(fd, F_SETPIPE_SZ, size)
    except (OSError, ImportError, AttributeError):
        pass


class FrameReader:
    """Reads frames from a file descriptor. One thread reads."""

    def __init__(self, fd, max_frame=DEFAULT_MAX_FRAME):
        self.f = os.fdopen(fd, "rb", buffering=1 << 16)
        self.max = max_frame

    def read(self):
        hdr = self.f.read(13)
        if len(hdr) < 13:
            raise Closed()
        n, typ, rid = _HDR.unpack(hdr)
        if n > self.max:
            raise ValueError("frame of %d bytes exceeds the %d-byte limit" % (n, self.max))
        if n < 9:
            raise ValueError("frame length %d is shorter than 9" % n)
        body = self.f.read(n - 9) if n > 9 else b""
        if len(body) < n - 9:
            raise Closed()
        return typ, rid, (cbor2.loads(body) if body else {})

    def close(self):
        try:
            self.f.close()
        except OSError:
            pass


class FrameWriter:
    """Writes whole frames to a file descriptor; safe for concurrent use."""

    def __init__(self, fd, max_frame=DEFAULT_MAX_FRAME):
        self.fd = fd
        self.max = max_frame
        self.lock = threading.Lock()
        self.closed = False

    def write(self, typ, rid, body):
        if type(body) is dict and len(body) == 1 and type(body.get("os")) is list:
            parts = _objects_parts(body["os"])
            if parts is not None:
                self.write_parts(typ, rid, parts)
                return
        self.write_parts(typ, rid, [cbor2.dumps(body if body is not None else {})])

    def write_parts(self, typ, rid, parts):
        """Writes one frame whose CBOR body is the concatenation of parts (bytes-like)."""
        n = 9 + sum(len(p) for p in parts)
        if n > self.max:
            raise ValueError("frame of %d bytes exceeds the %d-byte limit" % (n, self.max))
        bufs = [_HDR.pack(n, typ, rid)] + list(parts)
        if len(bufs) > 512:  # writev takes at most IOV_MAX (1024) buffers
            bufs = [b"".join(bufs)]
        total = n + 4
        with self.lock:
            if self.closed:
                raise Closed()
            try:
                k = os.writev(self.fd, bufs)  # no copy of large values into one buffer
                if k < total:
                    # finish the rest, skipping what writev wrote
                    for b in bufs:
                        if k >= len(b):
                            k -= len(b)
                            continue
                        mv = memoryview(b)[k:]
                        k = 0
                        while mv:
                            mv = mv[os.write(self.fd, mv):]
            except OSError:
                self.closed = True
                raise Closed()

    def close(self):
        with self.lock:
            if not self.closed:
                self.closed = True
                try:
                    os.close(self.fd)
                except OSError:
                    pass


# --- fray errors (the CBOR map that fray.DecodeError reads) --------------------------------


def error(kind, message, **fields):
    """Encodes a fray error. fields use fray's wire keys: t task, i task id, y type name,
    s stack, a actor, n name, x reason, e extra, f/g numbers."""
    m = {"k": kind, "m": message}
    for k, v in fields.items():
        if v not in (None, "", 0, 0.0):
            m[k] = v
    return cbor2.dumps(m)


def error_message(payload):
    """The message of an encoded fray error (for Python-side texts)."""
    try:
        m = cbor2.loads(payload)
        return str(m.get("m", ""))
    except Exception:  # noqa: BLE001 - best effort
        return "<undecodable fray error>"


class FrayTaskError(Exception):
    """A Go task or method failed; payload is fray.EncodeError bytes. Raising it makes the
    Ray task fail, so retry_exceptions and dependent-failure propagation work."""

    def __init__(self, payload, message=None):
        self.payload = payload
        self.message = message if message is not None else error_message(payload)
        super().__init__(self.message)

    def __reduce__(self):
        return (FrayTaskError, (self.payload, self.message))

    def __str__(self):
        return self.message


def cbor_text(s):
    """The CBOR encoding of text s (used to find refs inside values)."""
    return cbor2.dumps(s)

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
        b = cbor2.dumps(body if body is not None else {})
        n = 9 + len(b)
        if n > self.max:
            raise ValueError("frame of %d bytes exceeds the %d-byte limit" % (n, self.max))
        hdr = _HDR.pack(n, typ, rid)
        with self.lock:
            if self.closed:
                raise Closed()
            try:
                k = os.writev(self.fd, (hdr, b))  # no copy of a large body into one buffer
                if k < len(hdr) + len(b):
                    mv = memoryview(hdr + b)[k:] if k < len(hdr) else memoryview(b)[k - len(hdr):]
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

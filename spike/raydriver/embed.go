package main

// The embedded driver's operations, each the shape a fray JobContext method would have:
// one GIL acquisition per Remote/Put/Get call, arguments and results crossing as bytes.

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// Driver is the Ray driver inside the Go process.
type Driver struct {
	py                                                     *Python
	noopRemote, addRemote, hopRemote, failRemote, goRemote obj
	actorHopRemote, actorGoRemote                          obj
	rayGet, rayPut, putView                                obj
	cpus                                                   int
	restoredSignals                                        []syscall.Signal // handlers put back after ray.init
}

// Connect runs ray.init on the dedicated Python thread (Python's main thread) and looks up
// the callables the operations use.
//
// keepRayHandlers leaves the signal handlers ray.init installs in place (to show what they
// break); normally they are undone (signals.go).
func Connect(py *Python, address, self string, keepRayHandlers bool) (*Driver, error) {
	d := &Driver{py: py}
	var err error
	if !keepRayHandlers {
		saved := saveSignals()
		defer func() { d.restoredSignals = saved.restore() }()
	}
	py.Do(GILThread, func() {
		var connect, addr, bin, n obj
		if connect, err = py.global("connect"); err != nil {
			return
		}
		defer py.decref(connect)
		addr, bin = py.pyStr(address), py.pyStr(self)
		args := py.call(py.c.TupleNew, 2)
		py.call(py.c.TupleSetItem, args, 0, addr) // steals
		py.call(py.c.TupleSetItem, args, 1, bin)
		n = py.call(py.c.CallObject, connect, args)
		py.decref(args)
		if n == 0 {
			err = py.fetchErr("ray.init")
			return
		}
		d.cpus = int(py.call(py.c.LongAsLongLong, n))
		py.decref(n)
		for _, g := range []struct {
			name string
			to   *obj
		}{{"noop_remote", &d.noopRemote}, {"add_remote", &d.addRemote}, {"noop_hop_remote", &d.hopRemote}, {"noop_go_remote", &d.goRemote}, {"actor_hop_remote", &d.actorHopRemote}, {"actor_go_remote", &d.actorGoRemote}, {"put_view", &d.putView}} {
			if *g.to, err = py.global(g.name); err != nil {
				return
			}
		}
		var fails, ray obj
		if fails, err = py.global("fails"); err != nil {
			return
		}
		d.failRemote = py.attr(fails, "remote")
		py.decref(fails)
		if ray, err = py.global("ray"); err != nil {
			return
		}
		d.rayGet, d.rayPut = py.attr(ray, "get"), py.attr(ray, "put")
		py.decref(ray)
	})
	return d, err
}

// pyStr is a new str object (via bytes.decode, to stay within the few C functions used).
func (p *Python) pyStr(s string) obj {
	b := p.pyBytes([]byte(s))
	dec := p.attr(b, "decode")
	r := p.call(p.c.CallNoArgs, dec)
	p.decref(dec)
	p.decref(b)
	return r
}

// pyBytes copies b into a new bytes object (small arguments: a copy is cheaper than a view).
func (p *Python) pyBytes(b []byte) obj {
	var ptr unsafe.Pointer
	if len(b) > 0 {
		ptr = unsafe.Pointer(&b[0])
	}
	r := p.call(p.c.BytesFromStringAndSize, uintptr(ptr), uintptr(len(b)))
	runtime.KeepAlive(b)
	return r
}

// Ref is an ObjectRef held by Go: one strong Python reference, dropped by Release.
type Ref struct{ o obj }

// Remote submits fn(arg) and returns its ObjectRef (fn: a bound .remote).
func (d *Driver) Remote(mode GILMode, fn obj, arg []byte) (r Ref, err error) {
	d.py.Do(mode, func() {
		a := d.py.pyBytes(arg)
		r.o, err = d.py.call1("remote", fn, a)
		d.py.decref(a)
	})
	return
}

// RemoteInt is Remote with an int argument (the Counter actor adds ints).
func (d *Driver) RemoteInt(mode GILMode, fn obj, arg int64) (r Ref, err error) {
	d.py.Do(mode, func() {
		a := d.py.call(d.py.c.LongFromLongLong, uintptr(arg))
		r.o, err = d.py.call1("remote", fn, a)
		d.py.decref(a)
	})
	return
}

// GetAll is ray.get(refs), one call for all, each result copied out (bytes, or an int
// encoded as 8 bytes), and the refs released.
func (d *Driver) GetAll(mode GILMode, refs []Ref) (vals [][]byte, err error) {
	d.py.Do(mode, func() {
		p := d.py
		list := p.call(p.c.ListNew, uintptr(len(refs)))
		for i, r := range refs {
			p.call(p.c.ListSetItem, list, uintptr(i), r.o) // steals: the refs are released with the list
		}
		res, e := p.call1("ray.get", d.rayGet, list)
		p.decref(list)
		if e != nil {
			err = e
			return
		}
		defer p.decref(res)
		n := int(p.call(p.c.ListSize, res))
		vals = make([][]byte, n)
		for i := range vals {
			it := p.call(p.c.ListGetItem, res, uintptr(i)) // borrowed
			if b, e := p.bytesOf(it); e == nil {
				vals[i] = b
				continue
			}
			v := p.call(p.c.LongAsLongLong, it)
			if p.call(p.c.ErrOccurred) != 0 {
				err = p.fetchErr("result")
				return
			}
			vals[i] = binary.LittleEndian.AppendUint64(nil, uint64(v))
		}
	})
	return
}

// Put stores b in Ray's object store without copying it into Python: a memoryview over b's
// Go memory (PyMemoryView_FromMemory, read-only) goes to ray.put as an out-of-band pickle
// buffer, so the one copy is Ray's, into its store. b is pinned (runtime.Pinner) while C
// holds its address, and put_view releases the view before returning (it fails loudly if
// Ray kept an export), so nothing in Python points at b afterwards.
func (d *Driver) Put(mode GILMode, b []byte) (r Ref, err error) {
	var pin runtime.Pinner
	pin.Pin(&b[0])
	defer pin.Unpin()
	d.py.Do(mode, func() {
		p := d.py
		const pyBufRead = 0x100
		mv := p.call(p.c.MemoryViewFromMemory, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), pyBufRead)
		if mv == 0 {
			err = p.fetchErr("memoryview")
			return
		}
		r.o, err = p.call1("ray.put", d.putView, mv)
		p.decref(mv)
	})
	return
}

// PutCopy is Put through a bytes object (one more copy), for comparison.
func (d *Driver) PutCopy(mode GILMode, b []byte) (r Ref, err error) {
	d.py.Do(mode, func() {
		p := d.py
		by := p.pyBytes(b)
		r.o, err = p.call1("ray.put", d.rayPut, by)
		p.decref(by)
	})
	return
}

// GetInto is Get copying into dst's memory (reused by the caller: no Go allocation).
func (d *Driver) GetInto(mode GILMode, r Ref, dst []byte) (v []byte, err error) {
	d.py.Do(mode, func() {
		p := d.py
		got, e := p.call1("ray.get", d.rayGet, r.o)
		p.decref(r.o)
		if e != nil {
			err = e
			return
		}
		v, err = p.copyBuffer(got, dst)
		p.decref(got)
	})
	return
}

// Get is ray.get(ref) copied into a new Go slice through the buffer protocol (Ray hands
// back a buffer over its store for out-of-band values, bytes for in-band ones); the ref
// is released.
func (d *Driver) Get(mode GILMode, r Ref) (v []byte, err error) {
	d.py.Do(mode, func() {
		p := d.py
		got, e := p.call1("ray.get", d.rayGet, r.o)
		p.decref(r.o)
		if e != nil {
			err = e
			return
		}
		v, err = p.copyBuffer(got, nil)
		p.decref(got)
	})
	return
}

// Release drops a ref's Python reference (the Go side's Ref finalizer in a real design).
func (d *Driver) Release(mode GILMode, r Ref) {
	d.py.Do(mode, func() { d.py.decref(r.o) })
}

func (d *Driver) String() string { return fmt.Sprintf("embedded driver (%d CPUs)", d.cpus) }

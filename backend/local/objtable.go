package local

// objTable stores a job context's objects by sequence number. Sequence numbers are handed
// out in increasing order and most objects are released soon after, so the table is a set
// of fixed-size pages of slots, found through a small map from page number to page: a lookup
// is one map access on a few hot keys and an index, and an insert usually just fills the
// next slot of the current page. A page is dropped once all its slots were handed out and
// emptied again. It is guarded by the job context's mutex.
type objTable struct {
	pages map[uint64]*objPage
	cur   *objPage // the page of the most recent insert
	curNo uint64
	n     int
}

const (
	pageBits = 8
	pageSize = 1 << pageBits
)

type objPage struct {
	slots [pageSize]*object
	live  int
}

func newObjTable() objTable { return objTable{pages: map[uint64]*objPage{}} }

// put stores o under seq, which must be larger than every seq stored before.
func (t *objTable) put(seq uint64, o *object) {
	no := seq >> pageBits
	if t.cur == nil || no != t.curNo {
		if t.cur != nil && t.cur.live == 0 {
			delete(t.pages, t.curNo) // every slot of the old page was handed out and freed
		}
		t.cur, t.curNo = &objPage{}, no
		t.pages[no] = t.cur
	}
	t.cur.slots[seq&(pageSize-1)] = o
	t.cur.live++
	t.n++
}

func (t *objTable) get(seq uint64) (*object, bool) {
	p := t.page(seq >> pageBits)
	if p == nil {
		return nil, false
	}
	o := p.slots[seq&(pageSize-1)]
	return o, o != nil
}

func (t *objTable) page(no uint64) *objPage {
	if t.cur != nil && no == t.curNo {
		return t.cur
	}
	return t.pages[no]
}

func (t *objTable) remove(seq uint64) {
	no := seq >> pageBits
	p := t.page(no)
	if p == nil || p.slots[seq&(pageSize-1)] == nil {
		return
	}
	p.slots[seq&(pageSize-1)] = nil
	p.live--
	t.n--
	if p.live == 0 && p != t.cur {
		delete(t.pages, no)
	}
}

// each calls f for every object.
func (t *objTable) each(f func(*object)) {
	for _, p := range t.pages {
		for _, o := range p.slots {
			if o != nil {
				f(o)
			}
		}
	}
}

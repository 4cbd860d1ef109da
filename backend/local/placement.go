package local

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/worker"
)

// Placement groups on the one node of a local cluster (MIGRATION.md, "Placement groups").
//
// A group is pending until the node's free pool holds all of its bundles at once; then each
// bundle's resources move from the free pool into the bundle's own account (the group is
// ready). Tasks and actors scheduled into a bundle are admitted against that account, never
// against the free pool, and give their resources back to it. Removing a group returns the
// bundles' reservations to the free pool, fails the tasks queued or running in it with a
// *fray.PlacementGroupRemovedError and kills its actors, as Ray does. Every strategy puts
// all bundles on the one node, so STRICT_SPREAD with more than one bundle can never be met
// and fails at creation.

var _ backend.PlacementGroups = (*JobContext)(nil)

const (
	pgPending = iota
	pgReady
	pgRemoved
)

// placementGroup is one group; its fields below mu-comments are guarded by the cluster's
// mutex.
type placementGroup struct {
	info      backend.PlacementGroupInfo
	owner     *JobContext // nil: detached
	bundles   []*bundle
	total     *shape        // all bundles together, against the node's ledger
	readyCh   chan struct{} // closed once ready
	removedCh chan struct{} // closed once removed

	state   int
	classes map[string]*class   // the scheduling classes of work in this group, by key
	running map[*task]struct{}  // tasks admitted into a bundle and not finished
	actors  map[*actor]struct{} // live actors placed in the group
}

// bundle is one bundle's account: its reservation against the node and what of it is free.
type bundle struct {
	pg    *placementGroup
	index int
	shape *shape  // the reservation
	avail []int64 // free units, indexed like the node's ledger
}

// pgTable is the cluster's placement groups; guarded by the cluster's mutex.
type pgTable struct {
	byID    map[backend.PlacementGroupID]*placementGroup
	byName  map[actorKey]*placementGroup
	pending []*placementGroup // in creation order
	seq     uint64
}

func (g *placementGroup) removedError(what string) *fray.PlacementGroupRemovedError {
	return &fray.PlacementGroupRemovedError{Group: g.info.Describe(), What: what}
}

func unknownGroup(id backend.PlacementGroupID) error {
	return &fray.PlacementGroupRemovedError{Group: "placement group " + string(id),
		What: "scheduling into it (no live group with this id on this cluster: it was removed, its job closed, or it was made on another cluster)"}
}

// --- accounts ---------------------------------------------------------------------------

func fitsIn(avail []int64, s *shape) bool {
	for _, d := range s.demands {
		if avail[d.idx] < d.units {
			return false
		}
	}
	return true
}

func acquireIn(avail []int64, s *shape) {
	for _, d := range s.demands {
		avail[d.idx] -= d.units
	}
}

func releaseIn(avail []int64, s *shape) {
	for _, d := range s.demands {
		avail[d.idx] += d.units
	}
}

// availOf is the account t draws from: its bundle's, or the node's free pool.
func (c *Cluster) availOf(t *task) []int64 {
	if t.bnd != nil {
		return t.bnd.avail
	}
	return c.ledger.avail
}

// releaseRunLocked gives back what a finished run of t holds (its CPU part only as much as
// cpu) to the account it came from; c.mu is held.
func (c *Cluster) releaseRunLocked(t *task, s *shape, cpu int64) {
	avail := c.availOf(t)
	for _, d := range s.demands {
		if d.idx == c.ledger.cpu {
			avail[d.idx] += cpu
		} else {
			avail[d.idx] += d.units
		}
	}
	if b := t.bnd; b != nil {
		delete(b.pg.running, t)
		t.bnd = nil
	}
}

// admitInGroupLocked admits t into its class's bundle (or the first bundle with room, for
// fray.AnyBundle) once the group is ready; c.mu is held.
func (c *Cluster) admitInGroupLocked(t *task, cl *class) bool {
	g := cl.pg
	if g.state != pgReady {
		return false
	}
	var b *bundle
	if cl.bundle >= 0 {
		if fitsIn(g.bundles[cl.bundle].avail, cl.shape) {
			b = g.bundles[cl.bundle]
		}
	} else {
		for _, x := range g.bundles {
			if fitsIn(x.avail, cl.shape) {
				b = x
				break
			}
		}
	}
	if b == nil {
		return false
	}
	if cl.shape.gpu > 0 && t.pr != nil {
		gr, err := c.gpus.Assign(fray.FromUnits(cl.shape.gpu))
		if err != nil {
			return false // the node's free GPU ids are fragmented: wait for a release
		}
		t.pr.grant, t.pr.granted = gr, true
	}
	acquireIn(b.avail, cl.shape)
	t.bnd = b
	t.heldCPU = cl.shape.cpu
	if t.kind == kindTask {
		g.running[t] = struct{}{}
	}
	return true
}

// classInGroup returns the scheduling class of a request (see classFor) placed in a group.
func (c *Cluster) classInGroup(r fray.Resources, task bool, p *backend.Bundle) (*class, error) {
	var buf [96]byte
	key := append(buf[:0], "pg:"...)
	key = append(key, p.Group...)
	key = append(key, '/')
	key = strconv.AppendInt(key, int64(p.Index), 10)
	key = append(key, '|')
	key = shapeKey(key, r, task)
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.pgs.byID[p.Group]
	if g == nil {
		return nil, unknownGroup(p.Group)
	}
	if p.Index < backend.AnyBundle || p.Index >= len(g.bundles) {
		return nil, &fray.PlacementError{Group: g.info.Describe(), Bundle: p.Index,
			Reason: fmt.Sprintf("bundle index %d is out of range (the group has %d)", p.Index, len(g.bundles))}
	}
	if cl, ok := g.classes[string(key)]; ok {
		return cl, nil
	}
	req := r
	if task {
		req = fray.TaskResources(r)
	}
	cl := &class{shape: c.ledger.shapeOf(req), pg: g, bundle: p.Index}
	g.classes[string(key)] = cl
	return cl, nil
}

// placePendingLocked reserves the bundles of every pending group that now fits, in
// creation order; c.mu is held. It reports whether some group became ready (its queued
// work may now run).
func (c *Cluster) placePendingLocked() bool {
	placed := false
	keep := c.pgs.pending[:0]
	for _, g := range c.pgs.pending {
		if g.state == pgPending && c.ledger.fits(g.total) {
			for _, b := range g.bundles {
				c.ledger.acquire(b.shape)
			}
			g.state = pgReady
			close(g.readyCh)
			placed = true
			continue
		}
		if g.state == pgPending {
			keep = append(keep, g)
		}
	}
	for i := len(keep); i < len(c.pgs.pending); i++ {
		c.pgs.pending[i] = nil
	}
	c.pgs.pending = keep
	return placed
}

// --- the SPI ----------------------------------------------------------------------------

// CreatePlacementGroup registers a group and reserves its bundles as soon as the node's free
// pool holds all of them. On one node every strategy places all bundles together, so the
// bundles' sum must fit the node (else fray.ErrInfeasible), and STRICT_SPREAD with more
// than one bundle can never be met (a *fray.PlacementError that matches fray.ErrInfeasible).
func (j *JobContext) CreatePlacementGroup(ctx context.Context, spec backend.PlacementGroupSpec) (backend.PlacementGroupInfo, error) {
	if j.closed.Load() {
		return backend.PlacementGroupInfo{}, errClosed
	}
	o := spec
	ns := o.Namespace
	if ns == "" {
		ns = j.ns
	}
	c := j.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.closing.Load() {
		return backend.PlacementGroupInfo{}, errClosed
	}
	c.pgs.seq++
	info := backend.PlacementGroupInfo{ID: backend.PlacementGroupID(c.tag + "-pg-" + strconv.FormatUint(c.pgs.seq, 16)),
		Strategy: o.Strategy, Bundles: o.Bundles}
	if o.Name != "" {
		info.Name, info.Namespace = o.Name, ns
	}
	if o.Strategy == fray.StrictSpread.String() && len(o.Bundles) > 1 {
		return backend.PlacementGroupInfo{}, &fray.PlacementError{Group: info.Describe(), Bundle: backend.AnyBundle, Infeasible: true,
			Reason: fmt.Sprintf("STRICT_SPREAD needs a node for each of its %d bundles and the local backend is a single node; use SPREAD (best effort) or PACK here, or run on a Ray cluster with at least %d nodes", len(o.Bundles), len(o.Bundles))}
	}
	sum := fray.Resources{}
	for _, b := range o.Bundles {
		for k, v := range b {
			sum[k] = fray.FromUnits(fray.Units(sum[k]) + fray.Units(v))
		}
	}
	total := c.ledger.shapeOf(sum)
	if total.infeasible != nil {
		return backend.PlacementGroupInfo{}, fmt.Errorf("local: %s: its bundles go on the one node together and need %s in all: %w", info.Describe(), sum, total.infeasible)
	}
	if o.Name != "" {
		key := actorKey{ns, o.Name}
		if c.pgs.byName[key] != nil {
			return backend.PlacementGroupInfo{}, fmt.Errorf("local: %w: a placement group named %q already exists in namespace %q; choose another name, use GetPlacementGroup to share it, or remove it first", fray.ErrNameTaken, o.Name, ns)
		}
	}
	g := &placementGroup{info: info, total: total, readyCh: make(chan struct{}), removedCh: make(chan struct{}),
		classes: map[string]*class{}, running: map[*task]struct{}{}, actors: map[*actor]struct{}{}}
	if !o.Detached {
		g.owner = j
	}
	for i, r := range o.Bundles {
		s := c.ledger.shapeOf(r)
		g.bundles = append(g.bundles, &bundle{pg: g, index: i, shape: s, avail: make([]int64, len(c.ledger.names))})
		for _, d := range s.demands {
			g.bundles[i].avail[d.idx] = d.units
		}
	}
	if c.pgs.byID == nil {
		c.pgs.byID = map[backend.PlacementGroupID]*placementGroup{}
		c.pgs.byName = map[actorKey]*placementGroup{}
	}
	c.pgs.byID[info.ID] = g
	if o.Name != "" {
		c.pgs.byName[actorKey{ns, o.Name}] = g
	}
	c.pgs.pending = append(c.pgs.pending, g)
	c.placePendingLocked()
	return info, nil
}

// WaitPlacementGroup waits until the group is ready, the timeout passes, ctx is done or the
// job closes. A task waiting here lends its CPU to the node meanwhile, as in Get.
func (j *JobContext) WaitPlacementGroup(ctx context.Context, id backend.PlacementGroupID, timeout time.Duration) (bool, error) {
	if j.closed.Load() {
		return false, errClosed
	}
	j.c.mu.Lock()
	g := j.c.pgs.byID[id]
	j.c.mu.Unlock()
	if g == nil {
		return false, unknownGroup(id)
	}
	select {
	case <-g.removedCh: // checked first: a removed group was ready once, too
		return false, g.removedError("")
	default:
	}
	select {
	case <-g.readyCh:
		return true, nil
	default:
	}
	if timeout <= 0 || ctx.Err() != nil {
		return false, nil
	}
	if t := runningTask(ctx, j.c); t != nil {
		defer j.c.lendCPU(t)()
	}
	var timer <-chan time.Time
	if timeout != fray.Forever {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		timer = tm.C
	}
	select {
	case <-g.removedCh:
		return false, g.removedError("")
	case <-g.readyCh:
		select {
		case <-g.removedCh:
			return false, g.removedError("")
		default:
			return true, nil
		}
	case <-timer:
		return false, nil
	case <-ctx.Done():
		return false, nil
	case <-j.closedCh:
		return false, errClosed
	}
}

// RemovePlacementGroup removes a group: its reservation goes back to the node, the tasks
// queued or running in it fail with a *fray.PlacementGroupRemovedError (a task running in a
// worker process has its process killed; one running in-process has its context cancelled),
// and its actors die. Removing an unknown or removed group does nothing.
func (j *JobContext) RemovePlacementGroup(ctx context.Context, id backend.PlacementGroupID) error {
	if j.closed.Load() {
		return errClosed
	}
	j.c.removeGroup(id)
	return nil
}

// GetPlacementGroup finds a live named group of any job context on the cluster.
func (j *JobContext) GetPlacementGroup(ctx context.Context, name, namespace string) (backend.PlacementGroupInfo, error) {
	if j.closed.Load() {
		return backend.PlacementGroupInfo{}, errClosed
	}
	if namespace == "" {
		namespace = j.ns
	}
	j.c.mu.Lock()
	g := j.c.pgs.byName[actorKey{namespace, name}]
	j.c.mu.Unlock()
	if g == nil {
		return backend.PlacementGroupInfo{}, &fray.UnknownNameError{What: "placement group", Name: name,
			Hint: fmt.Sprintf("no live placement group of that name in namespace %q; names are per namespace, and a group's name is freed when it is removed (a job-scoped group is removed with its job)", namespace)}
	}
	return g.info, nil
}

// removeGroup removes group id (see RemovePlacementGroup).
func (c *Cluster) removeGroup(id backend.PlacementGroupID) {
	c.mu.Lock()
	g := c.pgs.byID[id]
	if g == nil || g.state == pgRemoved {
		c.mu.Unlock()
		return
	}
	delete(c.pgs.byID, id)
	if g.info.Name != "" {
		delete(c.pgs.byName, actorKey{g.info.Namespace, g.info.Name})
	}
	if g.state == pgReady {
		for _, b := range g.bundles {
			c.ledger.release(b.shape)
		}
	}
	g.state = pgRemoved
	close(g.removedCh)
	var failed []*task
	for _, cl := range g.classes {
		for cl.head != nil {
			if t := c.popLocked(cl); t.kind == kindTask {
				failed = append(failed, t)
			}
		}
		if cl.inReady {
			for i, x := range c.ready {
				if x == cl {
					c.removeReadyLocked(i)
					break
				}
			}
		}
	}
	for t := range g.running {
		failed = append(failed, t)
	}
	actors := make([]*actor, 0, len(g.actors))
	for a := range g.actors {
		actors = append(actors, a)
	}
	c.placePendingLocked()
	c.dispatchLocked() // unlocks c.mu
	for _, t := range failed {
		var proc *worker.Process // read before cancelTask, as in Cancel
		if t.pr != nil {
			t.pr.force.Store(true)
			proc = t.pr.proc.Load()
		}
		t.job.cancelTask(t, g.removedError("task "+t.name+" ("+string(t.obj.id)+")"))
		if proc != nil {
			proc.Kill()
		}
	}
	for _, a := range actors {
		a.kill(true, "its "+g.info.Describe()+" was removed")
	}
}

// removeOwnedGroups removes the job-scoped groups of job j (at its Close).
func (c *Cluster) removeOwnedGroups(j *JobContext) {
	c.mu.Lock()
	var ids []backend.PlacementGroupID
	for id, g := range c.pgs.byID {
		if g.owner == j {
			ids = append(ids, id)
		}
	}
	c.mu.Unlock()
	for _, id := range ids {
		c.removeGroup(id)
	}
}

// groupRemovedLocked reports the error of t when its class's group was removed; c.mu is
// held.
func groupRemovedLocked(t *task) error {
	if t.class == nil || t.class.pg == nil || t.class.pg.state != pgRemoved {
		return nil
	}
	return t.class.pg.removedError("task " + t.name + " (" + string(t.obj.id) + ")")
}

// --- nested calls from worker processes ---------------------------------------------------

var _ backend.PlacementGroups = (*nestedHost)(nil)

func (r *nestedHost) CreatePlacementGroup(ctx context.Context, spec backend.PlacementGroupSpec) (backend.PlacementGroupInfo, error) {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return backend.PlacementGroupInfo{}, err
	}
	return j.CreatePlacementGroup(ctx, spec)
}

func (r *nestedHost) WaitPlacementGroup(ctx context.Context, id backend.PlacementGroupID, timeout time.Duration) (bool, error) {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return false, err
	}
	return j.WaitPlacementGroup(ctx, id, timeout)
}

func (r *nestedHost) RemovePlacementGroup(ctx context.Context, id backend.PlacementGroupID) error {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return err
	}
	return j.RemovePlacementGroup(ctx, id)
}

func (r *nestedHost) GetPlacementGroup(ctx context.Context, name, namespace string) (backend.PlacementGroupInfo, error) {
	j, ctx, err := r.route(ctx)
	if err != nil {
		return backend.PlacementGroupInfo{}, err
	}
	return j.GetPlacementGroup(ctx, name, namespace)
}

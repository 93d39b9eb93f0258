package source

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
)

// observation is what a worker last saw of a lease, and when (on its own
// clock) it saw it change. Expiry is judged from it, as the Kinesis Client
// Library does: workers' clocks need not agree, because each compares only
// its own readings.
type observation struct {
	counter int64
	owner   string
	changed time.Time
}

// observe records leases as seen at now and forgets leases that are gone.
func observe(seen map[string]observation, leases []checkpoint.Lease, now time.Time) {
	present := make(map[string]bool, len(leases))
	for _, l := range leases {
		present[l.Key] = true
		o, ok := seen[l.Key]
		if !ok || o.counter != l.Counter || o.owner != l.Owner {
			seen[l.Key] = observation{counter: l.Counter, owner: l.Owner, changed: now}
		}
	}
	for k := range seen {
		if !present[k] {
			delete(seen, k)
		}
	}
}

// balanceInput is everything one balancing decision depends on.
type balanceInput struct {
	self     string
	leases   []checkpoint.Lease
	seen     map[string]observation
	held     map[string]bool      // keys with a running shard loop here
	asked    map[string]time.Time // hand-offs this worker requested, and when
	now      time.Time
	failover time.Duration
	rand     *rand.Rand // shuffles candidates so workers collide less; nil: no shuffle
}

// balancePlan is what a worker should do after one look at the lease table.
type balancePlan struct {
	// target is the fair share: ceil(active leases / live workers).
	target int
	// adopt: leases the table says this worker owns but no loop runs for
	// (a hand-off to it completed, or it restarted with the same ID).
	adopt []checkpoint.Lease
	// take: unowned or expired leases, in the order to try; at most
	// takeBudget of them should be taken.
	take       []checkpoint.Lease
	takeBudget int
	// request: leases of over-loaded workers to ask for.
	request []checkpoint.Lease
	// steal: requested leases whose owners did not hand them over within
	// the failover time.
	steal []checkpoint.Lease
	// forget: requests that are settled or moot.
	forget []string
	// handoff: held leases another worker asked for.
	handoff []checkpoint.Lease
}

// plan decides one balancing step. It is a pure function of its input so the
// rules can be tested against a model without goroutines or a clock.
func plan(in balanceInput) balancePlan {
	byKey := make(map[string]checkpoint.Lease, len(in.leases))
	for _, l := range in.leases {
		byKey[l.Key] = l
	}
	expired := func(l checkpoint.Lease) bool {
		if l.Owner == "" || l.Owner == in.self {
			return false
		}
		o, ok := in.seen[l.Key]
		// A lease never observed has not been watched long enough.
		return ok && o.counter == l.Counter && o.owner == l.Owner && in.now.Sub(o.changed) >= in.failover
	}
	var active []checkpoint.Lease
	for _, l := range in.leases {
		if isActive(l, byKey) {
			active = append(active, l)
		}
	}

	workers := map[string]bool{in.self: true}
	load := make(map[string][]checkpoint.Lease)
	for _, l := range active {
		if l.Owner == "" || l.Owner == in.self || expired(l) {
			continue
		}
		workers[l.Owner] = true
		load[l.Owner] = append(load[l.Owner], l)
		if l.PendingOwner != "" {
			// A worker holding nothing is known by its requests.
			workers[l.PendingOwner] = true
		}
	}
	var p balancePlan
	p.target = (len(active) + len(workers) - 1) / len(workers)

	mine := 0
	for _, l := range active {
		if in.held[l.Key] {
			mine++
		}
		switch {
		case l.Owner == in.self && !in.held[l.Key]:
			p.adopt = append(p.adopt, l)
			mine++
		case l.Owner == in.self && l.PendingOwner != "" && l.PendingOwner != in.self:
			p.handoff = append(p.handoff, l)
		}
	}

	for _, key := range slices.Sorted(maps.Keys(in.asked)) {
		l, ok := byKey[key]
		switch {
		case !ok || !isActive(l, byKey) || l.Owner == in.self || l.Owner == "" ||
			l.PendingOwner != in.self || expired(l):
			// Done, gone, freed (taking handles it) or superseded by
			// another worker's request.
			p.forget = append(p.forget, key)
		case in.now.Sub(in.asked[key]) >= in.failover:
			p.steal = append(p.steal, l)
			p.forget = append(p.forget, key)
			mine++
		default:
			mine++
		}
	}

	need := p.target - mine
	if need <= 0 {
		return p
	}
	for _, l := range active {
		if l.Owner != in.self && !in.held[l.Key] && (l.Owner == "" || expired(l)) {
			p.take = append(p.take, l)
		}
	}
	if in.rand != nil {
		in.rand.Shuffle(len(p.take), func(i, j int) { p.take[i], p.take[j] = p.take[j], p.take[i] })
	}
	p.takeBudget = need
	planned := min(need, len(p.take))
	need -= planned
	mine += planned

	// Ask the most loaded worker for one lease at a time while that
	// narrows the gap: its load, not counting leases already promised to
	// someone, is at least two above ours. Everyone ends between floor and
	// ceil of the fair share, and a worker one lease short of another does
	// not make the two trade places forever.
	avail := make(map[string][]checkpoint.Lease, len(load))
	for o, ls := range load {
		for _, l := range ls {
			if l.PendingOwner == "" {
				avail[o] = append(avail[o], l)
			}
		}
	}
	for ; need > 0; need-- {
		most := ""
		for o, ls := range avail {
			if most == "" || len(ls) > len(avail[most]) || (len(ls) == len(avail[most]) && o < most) {
				most = o
			}
		}
		ls := avail[most]
		if most == "" || len(ls)-mine < 2 {
			break
		}
		p.request = append(p.request, ls[len(ls)-1])
		avail[most] = ls[:len(ls)-1]
		mine++
	}
	return p
}

// isActive reports whether l's shard is to be processed now: not ended, and
// every parent ended. A parent whose lease is gone counts as ended: its
// shard aged out of the stream, or was deleted after ending.
func isActive(l checkpoint.Lease, byKey map[string]checkpoint.Lease) bool {
	if l.Checkpoint == checkpoint.ShardEnd {
		return false
	}
	for _, parent := range l.Parents {
		if pl, ok := byKey[parent]; ok && pl.Checkpoint != checkpoint.ShardEnd {
			return false
		}
	}
	return true
}

// nextExpiry returns how long until the first lease owned by another worker
// expires if its counter stands still, or false if none can.
func nextExpiry(seen map[string]observation, self string, now time.Time, failover time.Duration) (time.Duration, bool) {
	var first time.Duration
	found := false
	for _, o := range seen {
		if o.owner == "" || o.owner == self {
			continue
		}
		d := o.changed.Add(failover).Sub(now)
		if d > 0 && (!found || d < first) {
			first, found = d, true
		}
	}
	return first, found
}

// sync runs one round of shard discovery and lease balancing. It returns how
// long until a watched lease would expire (0 if none would), so the next sync
// can run right then instead of up to a period later.
//
// Each round creates leases for new shards (parents first), takes every
// lease that is unowned or expired up to the fair share, ceil(active leases /
// live workers), and while still under it asks the most loaded worker to
// hand one over (plan decides which). An owner that does not honour a
// request within FailoverTime has the lease stolen. A lease is expired, as
// the Kinesis Client Library judges it, when its counter has not moved for
// FailoverTime on this worker's own clock; every expired lease is taken in one
// round.
func (c *Consumer) sync() time.Duration {
	ctx := c.hardCtx
	leases, err := c.cfg.Leases.List(ctx)
	if err != nil {
		c.mon.failed(c.log, resLeases, "listing leases failed", err)
		return 0
	}
	c.mon.ok(resLeases)
	c.lastSync.Store(time.Now().UnixNano())
	if now := time.Now(); shardsDue(leases, c.shardsListed, now, c.cfg.ShardSyncInterval) {
		shards, err := c.cfg.Stream.Shards(ctx)
		if err != nil {
			c.mon.failed(c.log, resStream, "listing shards failed; balancing the known leases", err)
		} else {
			c.mon.ok(resStream)
			c.shardsListed = now
			c.remember(shards)
			if c.createLeases(shards, leases) {
				if leases, err = c.cfg.Leases.List(ctx); err != nil {
					c.log.Warn("listing leases failed", "err", err)
					return 0
				}
			}
			c.deleteGone(shards, leases)
		}
	}
	now := time.Now()
	c.prevOwners.note(c.seen, leases)
	observe(c.seen, leases, now)

	c.mu.Lock()
	held := make(map[string]bool, len(c.held))
	for k := range c.held {
		held[k] = true
	}
	c.mu.Unlock()
	p := plan(balanceInput{
		self: c.cfg.WorkerID, leases: leases, seen: c.seen, held: held,
		asked: c.requested, now: now, failover: c.cfg.FailoverTime,
		rand: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	})

	for _, l := range p.handoff {
		c.mu.Lock()
		h := c.held[l.Key]
		c.mu.Unlock()
		if h != nil {
			h.lease.handoffRequested(l.PendingOwner)
		}
	}
	for _, k := range p.forget {
		delete(c.requested, k)
	}
	for _, l := range p.adopt {
		c.take(l, "adopt")
	}
	for _, l := range p.steal {
		c.take(l, "steal")
	}
	taken := 0
	for _, l := range p.take {
		if taken == p.takeBudget {
			break
		}
		if c.take(l, "take") {
			taken++
		}
	}
	for _, l := range p.request {
		if _, err := c.cfg.Leases.RequestHandoff(ctx, l, c.cfg.WorkerID); err != nil {
			c.log.Debug("hand-off request failed", "shard", l.Key, "owner", l.Owner, "err", err)
			continue
		}
		c.log.Info("requested hand-off", "shard", l.Key, "owner", l.Owner, "target", p.target)
		c.requested[l.Key] = now
	}
	d, _ := nextExpiry(c.seen, c.cfg.WorkerID, now, c.cfg.FailoverTime)
	return d
}

// shardsDue reports whether a sync must list the stream's shards: on the
// first sync, once every (the ShardSyncInterval) since the last listing, and
// whenever a lease has reached the end of its shard while no lease names it
// as a parent, for its children then need leases. A shard that splits or
// merges ends (its reader reaches SHARD_END) soon after, so this finds
// reshards within a sync without listing the shards on every one.
func shardsDue(leases []checkpoint.Lease, listed, now time.Time, every time.Duration) bool {
	if listed.IsZero() || now.Sub(listed) >= every {
		return true
	}
	parents := make(map[string]bool)
	for _, l := range leases {
		for _, p := range l.Parents {
			parents[p] = true
		}
	}
	for _, l := range leases {
		if l.Checkpoint == checkpoint.ShardEnd && !parents[l.Key] {
			return true
		}
	}
	return false
}

// take takes l for this worker and starts its shard loop.
func (c *Consumer) take(l checkpoint.Lease, why string) bool {
	prev := l.Owner
	nl, err := c.cfg.Leases.Take(c.hardCtx, l, c.cfg.WorkerID)
	if err != nil {
		if !errors.Is(err, checkpoint.ErrLeaseLost) {
			c.mon.failed(c.log, resLeases, "taking lease failed", err, "shard", l.Key)
		}
		return false
	}
	c.leasesTaken.Add(1)
	how, from := takeOrigin(why, prev, c.cfg.WorkerID, c.prevOwners[l.Key])
	if from == "" {
		c.log.Info("took lease", "shard", l.Key, "how", how, "checkpoint", nl.Checkpoint)
	} else {
		c.log.Info("took lease", "shard", l.Key, "how", how, "from", from, "checkpoint", nl.Checkpoint)
	}
	delete(c.requested, l.Key)
	c.start(nl)
	return true
}

// createLeases creates a lease for every shard that has none, parents before
// children so that a worker that sees a child's lease also sees its
// parents'. It reports whether it created any.
func (c *Consumer) createLeases(shards []Shard, leases []checkpoint.Lease) bool {
	known := make(map[string]bool, len(leases))
	for _, l := range leases {
		known[l.Key] = true
	}
	failed := make(map[string]bool)
	created := false
	var reshards reshardLog
	for _, s := range parentsFirst(shards) {
		if known[s.ID] {
			continue
		}
		cp := specialCheckpoint(c.cfg.InitialPosition.Type)
		child := false
		for _, p := range s.Parents() {
			if failed[p] {
				failed[s.ID] = true
			}
			if known[p] {
				// A child of a reshard this application was
				// following: every record put into it must be
				// read, whatever the initial position.
				cp = checkpoint.TrimHorizon
				child = true
			}
		}
		if failed[s.ID] {
			continue
		}
		ok, err := c.cfg.Leases.Create(c.hardCtx, checkpoint.Lease{Key: s.ID, Checkpoint: cp, Parents: s.Parents()})
		if err != nil {
			c.mon.failed(c.log, resLeases, "creating lease failed", err, "shard", s.ID)
			failed[s.ID] = true
			continue
		}
		if ok {
			c.log.Info("created lease", "shard", s.ID, "checkpoint", cp, "parents", s.Parents())
			created = true
			if child {
				reshards.add(s)
			}
		}
	}
	reshards.log(c.log)
	return created
}

// deleteGone deletes the leases of ended shards that the stream no longer
// lists (aged out of retention): nothing is left to read, and their children
// count a missing parent as ended.
func (c *Consumer) deleteGone(shards []Shard, leases []checkpoint.Lease) {
	listed := make(map[string]bool, len(shards))
	for _, s := range shards {
		listed[s.ID] = true
	}
	for _, l := range leases {
		if l.Checkpoint != checkpoint.ShardEnd || listed[l.Key] || l.Owner != "" {
			continue
		}
		if err := c.cfg.Leases.Delete(c.hardCtx, l); err == nil {
			c.log.Info("deleted lease of a shard that is gone", "shard", l.Key)
		}
	}
}

// parentsFirst orders shards so that each comes after its parents.
func parentsFirst(shards []Shard) []Shard {
	byID := make(map[string]Shard, len(shards))
	for _, s := range shards {
		byID[s.ID] = s
	}
	out := make([]Shard, 0, len(shards))
	done := make(map[string]bool, len(shards))
	var visit func(s Shard)
	visit = func(s Shard) {
		if done[s.ID] {
			return
		}
		done[s.ID] = true
		for _, p := range s.Parents() {
			if ps, ok := byID[p]; ok {
				visit(ps)
			}
		}
		out = append(out, s)
	}
	for _, s := range shards {
		visit(s)
	}
	return out
}

func specialCheckpoint(t PositionType) string {
	switch t {
	case Latest:
		return checkpoint.Latest
	case AtTimestamp:
		return checkpoint.AtTimestamp
	}
	return checkpoint.TrimHorizon
}

// remember keeps the shards as listed, for the InitInput of the processors
// started later.
func (c *Consumer) remember(shards []Shard) {
	m := make(map[string]Shard, len(shards))
	for _, s := range shards {
		m[s.ID] = s
	}
	c.shardsMu.Lock()
	c.shards = m
	c.shardsMu.Unlock()
}

// describe returns the shard as last listed. A shard not listed yet (its
// lease came from another worker's listing) is looked up in a listing of its
// own; if that fails too, only the ID is known.
func (c *Consumer) describe(ctx context.Context, key string) Shard {
	c.shardsMu.Lock()
	s, ok := c.shards[key]
	c.shardsMu.Unlock()
	if ok {
		return s
	}
	shards, err := c.cfg.Stream.Shards(ctx)
	if err != nil {
		c.mon.failed(c.log, resStream, "listing shards failed; the processor starts without the shard's hash key range", err, "shard", key)
		return Shard{ID: key}
	}
	c.remember(shards)
	for _, s := range shards {
		if s.ID == key {
			return s
		}
	}
	return Shard{ID: key}
}

// childrenSeen creates the leases of the shards that replace parent, as the
// stream named them at its end (Kinesis's ChildShards), so that the children
// start without a listing of the stream's shards; it also keeps their hash
// key ranges for their processors. A lease that exists already is left as it
// is; one that cannot be created now will be by the next listing.
func (c *Consumer) childrenSeen(parent string, children []Shard) {
	c.shardsMu.Lock()
	if c.shards == nil {
		c.shards = make(map[string]Shard)
	}
	for _, ch := range children {
		c.shards[ch.ID] = ch
	}
	c.shardsMu.Unlock()
	for _, ch := range children {
		ok, err := c.cfg.Leases.Create(c.hardCtx, checkpoint.Lease{Key: ch.ID, Checkpoint: checkpoint.TrimHorizon, Parents: ch.Parents()})
		switch {
		case err != nil:
			c.log.Warn("creating a child's lease failed; the next listing of the shards will", "shard", ch.ID, "parent", parent, "err", err)
		case ok:
			c.log.Info("created lease", "shard", ch.ID, "checkpoint", checkpoint.TrimHorizon, "parents", ch.Parents(), "from", "the parent's end")
		}
	}
	c.kickSync()
}

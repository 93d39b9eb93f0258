package kinesisstream

// deque is a FIFO of records that also takes records at the front. The zero
// value is an empty deque. It is not safe for concurrent use; push and pop
// are amortised O(1).
type deque struct {
	buf  []*pending
	head int
}

func (d *deque) len() int { return len(d.buf) - d.head }

func (d *deque) front() *pending {
	if d.head == len(d.buf) {
		return nil
	}
	return d.buf[d.head]
}

func (d *deque) pushBack(r *pending) { d.buf = append(d.buf, r) }

func (d *deque) pushFront(r *pending) {
	if d.head == 0 {
		// Make room in front in proportion to the size, so that a run of
		// pushFronts costs O(1) each.
		gap := len(d.buf)/2 + 4
		buf := make([]*pending, gap+len(d.buf), gap+cap(d.buf))
		copy(buf[gap:], d.buf)
		d.buf, d.head = buf, gap
	}
	d.head--
	d.buf[d.head] = r
}

func (d *deque) popFront() *pending {
	if d.head == len(d.buf) {
		return nil
	}
	r := d.buf[d.head]
	d.buf[d.head] = nil
	d.head++
	if d.head == len(d.buf) {
		// Empty: reuse the array from its start.
		d.buf, d.head = d.buf[:0], 0
	} else if d.head > 1024 && d.head > len(d.buf)/2 {
		n := copy(d.buf, d.buf[d.head:])
		clear(d.buf[n:])
		d.buf, d.head = d.buf[:n], 0
	}
	return r
}

package workload

import (
	"math/rand/v2"
	"strconv"
)

// WebLog generates the web log workload of issue 15: access-log lines
// "client-ip path status", client IPs drawn by a Zipf law from a million (or
// any number of) addresses, paths from a few hundred by another, and
// mostly-200 statuses. Lines are made one at a time, so a stream of any
// length costs no memory. Not safe for concurrent use.
type WebLog struct {
	ips, paths *Zipf
	rng        *rand.Rand
	line       []byte
}

// WebLogPaths is the number of distinct paths in a WebLog.
const WebLogPaths = 500

// NewWebLog returns a generator of lines whose client IPs are drawn from ips
// addresses with exponent s, seeded by seed. Building it costs O(ips).
func NewWebLog(ips int, s float64, seed uint64) *WebLog {
	return &WebLog{ips: NewZipf(s, ips, seed), paths: NewZipf(1.0, WebLogPaths, seed+1),
		rng: rand.New(rand.NewPCG(seed, 0x10c))}
}

// Next returns the next line and its client IP; both are valid until the
// next call.
func (w *WebLog) Next() (line []byte, ip []byte) {
	b := w.line[:0]
	// Rank r is address 10.(r>>16).(r>>8).r, so ranks map to distinct IPs.
	r := w.ips.Next()
	b = append(b, "10."...)
	b = strconv.AppendInt(b, int64(r>>16&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(r>>8&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(r&0xff), 10)
	n := len(b)
	b = append(b, " /p/"...)
	b = strconv.AppendInt(b, int64(w.paths.Next()), 10)
	status := 200
	switch x := w.rng.IntN(100); {
	case x < 3:
		status = 404
	case x < 4:
		status = 500
	case x < 10:
		status = 304
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	w.line = b
	return b, b[:n]
}

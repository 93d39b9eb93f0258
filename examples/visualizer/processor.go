package main

import (
	"errors"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/source"
)

// visit is one record as the producer writes it: a page view and where the
// visitor came from.
type visit struct {
	Resource string `json:"resource"`
	Referrer string `json:"referrer"`
}

// maxResources bounds how many resources one shard's processor counts at
// once, so a stream of garbage keys cannot exhaust memory. Records past it are
// counted as malformed.
const maxResources = 10_000

// errNotVisit is the reason a record is not counted: not a JSON object, or
// either field missing or empty. The record's payload is not part of it, so
// that logs never show one.
var errNotVisit = errors.New("not a visit: want a JSON object with a non-empty resource and referrer")

// visitDecoder turns a visit record into the one item it counts: a view of
// the resource, from the referrer, at the record's arrival time.
//
// The zero value is ready. A visitDecoder keeps the names it has seen (at most
// maxNames) so that known names cost no allocation, and so is used by one
// shard's goroutine only: make one per shard with newVisitDecoder.
type visitDecoder struct {
	names names
}

// newVisitDecoder fits aggregate.Config.NewDecoder.
func newVisitDecoder(string) aggregate.Decoder { return &visitDecoder{} }

func (d *visitDecoder) Decode(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
	resource, referrer, ok := d.names.decodeVisit(r.Data)
	if !ok {
		return dst, errNotVisit
	}
	return append(dst, aggregate.Item{Group: resource, Key: referrer, Time: r.ArrivalTime, N: 1}), nil
}

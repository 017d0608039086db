package controllers

import (
	"slices"
	"sync"
	"time"
)

// weightLog records every distinct canary weight the routing object was seen with, in
// order, and when.
type weightLog struct {
	mu   sync.Mutex
	seen []int32
	at   []time.Time
}

// add records that the routing object sent w percent to the canary (harness.WatchCanaryWeight
// calls it with every version of the object).
func (l *weightLog) add(w int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) == 0 || l.seen[len(l.seen)-1] != w {
		l.seen = append(l.seen, w)
		l.at = append(l.at, time.Now())
	}
}

// firstAfter is when the route first had weight w after t; zero if it has not.
func (l *weightLog) firstAfter(w int32, t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, seen := range l.seen {
		if seen == w && l.at[i].After(t) {
			return l.at[i]
		}
	}
	return time.Time{}
}

func (l *weightLog) list() []int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

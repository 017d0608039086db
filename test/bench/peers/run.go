package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/ptr"

	"github.com/tranche-dev/tranche/test/stack"
)

// run is one contender's part of the bench: its process, its app's load and what each of its
// releases gave.
type run struct {
	c    contender
	pid  int
	load *stack.Load
	good []outcome
	bad  []outcome
	// firstBad is what the clients saw during the first bad release.
	firstBad timeline
	// readyAfter is how long the canary object took, once created, to be ready to release.
	readyAfter time.Duration
	// idle are the requests it made in the idle minute after the last rollout (a
	// rolled-back one).
	idle apiRequests
}

// outcome is what one release gave.
type outcome struct {
	toTraffic time.Duration // from the edit to all traffic on the version that stays (see release)
	toEnd     time.Duration // from the edit to the controller saying the rollout ended
	promoted  bool
	failed    int // requests the clients saw fail
	answered  int // requests the new version answered
	api       apiRequests
	cpu       time.Duration
}

// endLimit bounds a rollout: three steps of analysis and a promotion take well under it.
const endLimit = 5 * time.Minute

// settle is how long after a rollout ended the traffic is still watched: the last answers of
// the version that left arrive then.
const settle = 3 * time.Second

// prepare creates the contender's app at v1 in its namespace, starts the contender, deploys
// its canary object and waits until it is ready and the gateway serves the app; then it starts
// the load.
func prepare(ctx context.Context, s *setup, c contender, rate int) (*run, error) {
	if c.namespace() != s.stack.Namespace {
		if err := s.stack.ServeNamespace(ctx, c.namespace()); err != nil {
			return nil, err
		}
	}
	r := &run{c: c}
	var err error
	if r.pid, err = c.start(ctx, s); err != nil {
		return nil, err
	}
	deployment := stack.App(c.namespace(), app, "v1")
	deployment.Spec.Replicas = ptr.To[int32](2)
	if err := s.stack.ControlPlane.Client.Create(ctx, deployment); err != nil {
		return nil, err
	}
	created := time.Now()
	if err := c.deploy(ctx, s); err != nil {
		return nil, err
	}
	if err := poll(ctx, 2*time.Minute, func() (bool, error) { return c.ready(ctx, s) }); err != nil {
		return nil, fmt.Errorf("never ready to release: %w", err)
	}
	r.readyAfter = time.Since(created)
	if err := stack.WaitServed(ctx, s.stack.Traefik.WebURL(), host(c), time.Minute); err != nil {
		return nil, err
	}
	r.load = stack.StartLoad(ctx, s.stack.Traefik.WebURL(), host(c), rate)
	return r, nil
}

// release changes the app to version (bad: an error rate) and measures the rollout: the
// clients' answers every 100 ms, the contender's API requests in the audit log, its CPU.
func (r *run) release(ctx context.Context, s *setup, version string, args []string, bad bool) error {
	cpuBefore, err := cpuTime(r.pid)
	if err != nil {
		return err
	}
	before := r.load.Counts()
	watch, stopWatching := context.WithCancel(ctx)
	samples := sampleLoad(watch, r.load)
	edit := time.Now()
	if err := stack.Release(ctx, s.stack.ControlPlane.Client, r.c.namespace(), app, version, args...); err != nil {
		stopWatching()
		return err
	}
	var promoted, started bool
	err = poll(ctx, endLimit, func() (bool, error) {
		done, ok, err := r.c.ended(ctx, s)
		// The phase of the release before says it ended until the controller sees this one.
		if !started {
			started = !done
			return false, err
		}
		promoted = ok
		return done, err
	})
	ended := time.Now()
	if err != nil {
		stopWatching()
		return fmt.Errorf("the rollout did not end: %w", err)
	}
	time.Sleep(settle)
	stopWatching()
	o := outcome{toEnd: ended.Sub(edit), promoted: promoted}
	counts := r.load.Counts().Minus(before)
	o.failed, o.answered = counts.Failed, counts.ByVersion[version]
	seen := <-samples
	o.toTraffic = untilOnly(seen, edit, version, promoted)
	if bad && len(r.bad) == 0 {
		r.firstBad = timelineOf(seen, edit, version)
	}
	if o.cpu, err = cpuTime(r.pid); err != nil {
		return err
	}
	o.cpu -= cpuBefore
	if o.api, err = requests(s, r.c, edit, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench-peers: %s released %s (bad: %t): ended after %.1fs, promoted %t; clients: %d sent, %d failed, %d dropped, answers by version %v\n",
		r.c.name(), version, bad, o.toEnd.Seconds(), promoted, counts.Sent, counts.Failed, counts.Dropped, counts.ByVersion)
	if bad {
		r.bad = append(r.bad, o)
	} else {
		r.good = append(r.good, o)
	}
	return nil
}

// sample is the clients' counts at a time.
type sample struct {
	at     time.Time
	counts stack.LoadCounts
}

// sampleLoad records the load's counts every 100 ms until ctx ends, and then sends them.
func sampleLoad(ctx context.Context, load *stack.Load) <-chan []sample {
	out := make(chan []sample, 1)
	go func() {
		var samples []sample
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			samples = append(samples, sample{time.Now(), load.Counts()})
			select {
			case <-ctx.Done():
				out <- samples
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// untilOnly is the time from edit to the end of the last 100 ms in which a version other than
// the one that stays answered: the new version when promoted, the one before it otherwise.
func untilOnly(samples []sample, edit time.Time, version string, promoted bool) time.Duration {
	last := edit
	for i := 1; i < len(samples); i++ {
		d := samples[i].counts.Minus(samples[i-1].counts)
		for v, n := range d.ByVersion {
			if n > 0 && (v == version) != promoted {
				last = samples[i].at
			}
		}
	}
	return last.Sub(edit)
}

// apiRequests are a contender's requests to the API server over a time, events aside.
type apiRequests struct {
	writes  map[string]int // by resource (and subresource)
	reads   int            // get and list
	refused int            // writes answered 409: a conflict, or a create of what exists
}

// requests counts the contender's API requests answered between from and to.
func requests(s *setup, c contender, from, to time.Time) (apiRequests, error) {
	events, err := s.stack.ControlPlane.Audit(c.userAgent())
	if err != nil {
		return apiRequests{}, err
	}
	r := apiRequests{writes: map[string]int{}}
	for _, e := range events {
		if e.StageTimestamp.Before(from) || e.StageTimestamp.After(to) || e.ObjectRef.Resource == "events" {
			continue
		}
		switch {
		case e.Writes():
			kind := e.ObjectRef.Resource
			if e.ObjectRef.Subresource != "" {
				kind += "/" + e.ObjectRef.Subresource
			}
			r.writes[kind]++
			if e.ResponseStatus.Code == http.StatusConflict {
				r.refused++
			}
		case e.Verb == "get" || e.Verb == "list":
			r.reads++
		}
	}
	return r, nil
}

// cpuTime is the CPU time the process has used, from /proc (Linux).
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command (which may hold spaces) start after its ")".
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat has %d fields", pid, len(fields))
	}
	user, err1 := strconv.ParseInt(fields[11], 10, 64)
	system, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(user+system) * time.Second / ticksPerSecond, nil
}

// rss is the process's resident memory, from /proc (Linux).
func rss(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}

// poll calls done every 100 ms until it says true, fails, or limit passes.
func poll(ctx context.Context, limit time.Duration, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

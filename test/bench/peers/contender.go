package main

import (
	"context"
	"time"
)

// contender is one progressive delivery controller in the bench: it runs as a process of its
// own against the stack's API server, in a namespace of its own, with the same app, the same
// load through Traefik and the same analysis as the others.
type contender interface {
	// name is the controller's, as the tables say it.
	name() string
	// namespace is where its app and objects live.
	namespace() string
	// userAgent is a part of the User-Agent its requests carry, to tell them in the audit log.
	userAgent() string
	// start runs the controller until ctx ends, and returns its process ID.
	start(ctx context.Context, s *setup) (pid int, err error)
	// deploy creates the app's canary object (a Rollout, a Canary) for the app at v1, and
	// whatever routes the requests for its host to it.
	deploy(ctx context.Context, s *setup) error
	// ready reports whether the canary object is ready to release: initialized, all traffic
	// on the stable version.
	ready(ctx context.Context, s *setup) (bool, error)
	// ended reports whether the rollout of the last release ended, and whether it promoted.
	ended(ctx context.Context, s *setup) (done, promoted bool, err error)
}

// settings are the analysis and steps every contender runs with.
type settings struct {
	interval  time.Duration // between two analysis runs, and each step's hold
	threshold int           // failed runs that roll back
	weights   []int32       // the canary's steps before promotion
	minimum   float64       // the success rate, in percent, a run needs
}

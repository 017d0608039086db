package main

import (
	"context"
	"errors"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
)

// startupPatience is how long the manager goes on trying to start while the API server fails
// it in ways that pass (a timeout, an overload, no answer yet), before it gives up.
const startupPatience = time.Minute

// startupRetry calls start until it succeeds, fails for good, or startupPatience is over:
// creating the manager reads the API server's discovery, and one request of it that times
// out should cost a retry, not a crash and the kubelet's back-off.
func startupRetry[T any](ctx context.Context, start func() (T, error)) (T, error) {
	deadline := time.Now().Add(startupPatience)
	wait := 250 * time.Millisecond
	for {
		v, err := start()
		if err == nil || !transient(err) || time.Now().Add(wait).After(deadline) {
			return v, err
		}
		ctrl.Log.Info("The API server failed the manager's start; trying again", "in", wait.String(), "error", err.Error())
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 8*time.Second)
	}
}

// transient reports whether err is the API server's, of a kind that passes: a timeout, an
// overload, an internal error, or no connection at all.
func transient(err error) bool {
	var netErr net.Error
	return apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || errors.As(err, &netErr)
}

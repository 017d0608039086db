package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// discoveryFailed wraps err as controller-runtime does when a discovery read fails while the
// manager is created.
func discoveryFailed(err error) error {
	return fmt.Errorf("failed to determine if *v1alpha1.Rollout is namespaced: %w",
		fmt.Errorf("failed to get restmapping: %w", fmt.Errorf("failed to get server groups: %w", err)))
}

func TestTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"a discovery read that timed out", discoveryFailed(apierrors.NewGenericServerResponse(504, "get", schema.GroupResource{}, "", "", 0, true)), true},
		{"a server timeout", apierrors.NewServerTimeout(schema.GroupResource{Resource: "rollouts"}, "get", 1), true},
		{"an API server overloaded", discoveryFailed(apierrors.NewTooManyRequests("slow down", 1)), true},
		{"an API server starting", apierrors.NewServiceUnavailable("not ready"), true},
		{"no API server listening yet", discoveryFailed(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"a manager not allowed to read", discoveryFailed(apierrors.NewForbidden(schema.GroupResource{Resource: "rollouts"}, "", errors.New("no RBAC"))), false},
		{"a CRD not installed", apierrors.NewNotFound(schema.GroupResource{Resource: "rollouts"}, ""), false},
		{"a bad option", errors.New("the cache's namespaces conflict"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, transient(tt.err), "%v", tt.err)
		})
	}
}

func TestStartupRetryGoesOnPastTransientFailures(t *testing.T) {
	calls := 0
	v, err := startupRetry(context.Background(), func() (int, error) {
		if calls++; calls < 3 {
			return 0, discoveryFailed(apierrors.NewTimeoutError("injected", 0))
		}
		return 42, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 42, v)
	assert.Equal(t, 3, calls)
}

func TestStartupRetryGivesUpAtOnceOnAFailureThatStays(t *testing.T) {
	calls := 0
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "rollouts"}, "", errors.New("no RBAC"))
	_, err := startupRetry(context.Background(), func() (int, error) { calls++; return 0, discoveryFailed(forbidden) })
	assert.True(t, apierrors.IsForbidden(err), "%v", err)
	assert.Equal(t, 1, calls)
}

func TestStartupRetryStopsWhenTheManagerIsStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := startupRetry(ctx, func() (int, error) { calls++; cancel(); return 0, apierrors.NewServiceUnavailable("starting") })
	assert.True(t, apierrors.IsServiceUnavailable(err), "%v", err)
	assert.Equal(t, 1, calls)
}

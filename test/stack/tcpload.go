package stack

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// StartTCPLoad opens perSecond connections a second to address (a gateway's TCP entrypoint,
// host:port) until ctx is done, and reads each to its end: the demo app's TCP port (its
// --tcp-port) answers a connection with its version, a line, and closes it. A connection
// that cannot be opened, or ends without a version, counts as failed.
func StartTCPLoad(ctx context.Context, address string, perSecond int) *Load {
	return startLoad(ctx, perSecond, func(ctx context.Context) (string, error) { return tcpVersion(ctx, address) })
}

// WaitTCPServed waits up to limit until a connection to address is answered with a version:
// the route is in place and the app serves.
func WaitTCPServed(ctx context.Context, address string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		_, err := tcpVersion(ctx, address)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stack: no version on a connection to %s within %s: %w", address, limit, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tcpVersion opens one connection and reads the version it is answered with.
func tcpVersion(ctx context.Context, address string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", address)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(deadline)
	answer, err := io.ReadAll(conn)
	if err != nil {
		return "", err
	}
	version := strings.TrimSpace(string(answer))
	if version == "" {
		return "", fmt.Errorf("stack: the connection to %s ended without a version", address)
	}
	return version, nil
}

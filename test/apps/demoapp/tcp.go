package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// serveTCP answers every connection on address with the version, a line, and closes it: a
// protocol of bare TCP (a database's, a broker's) whose clients can tell which version took
// their connection. It stops listening drainDelay after ctx is done, as the HTTP server does.
func serveTCP(ctx context.Context, address, version string, drainDelay time.Duration) error {
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		time.Sleep(drainDelay)
		_ = listener.Close()
	}()
	for {
		conn, err := listener.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		go func() {
			defer conn.Close()
			_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = fmt.Fprintln(conn, version)
		}()
	}
}

// tcpAddress is the address of the TCP port beside the HTTP one: the same host.
func tcpAddress(listen string, port int) (string, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--listen %q: %w", listen, err)
	}
	return net.JoinHostPort(host, fmt.Sprint(port)), nil
}

package main

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bursts come by the wall clock, so that every process of the app bursts at the same time.
func TestBurstsComeByTheWallClock(t *testing.T) {
	rate := bursts{every: 20 * time.Second, length: 4 * time.Second, errorRate: 0.5}.rate(0.01)
	base := time.Unix(1_800_000_000, 0) // a multiple of 20 s
	assert.Equal(t, 0.5, rate(base))
	assert.Equal(t, 0.5, rate(base.Add(3999*time.Millisecond)))
	assert.Equal(t, 0.01, rate(base.Add(4*time.Second)))
	assert.Equal(t, 0.5, rate(base.Add(61*time.Second)))
	assert.Equal(t, 0.01, bursts{}.rate(0.01)(base), "no bursts unless asked")
}

// Every TCP connection is answered with the version, a line, and closed; once the context is
// done the port stops taking connections.
func TestTheTCPPortAnswersWithTheVersion(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	address := probe.Addr().String()
	require.NoError(t, probe.Close())
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- serveTCP(ctx, address, "v7", 0) }()

	var conn net.Conn
	require.Eventually(t, func() bool { conn, err = net.Dial("tcp", address); return err == nil }, 5*time.Second, 10*time.Millisecond)
	answer, err := io.ReadAll(conn)
	require.NoError(t, err)
	assert.Equal(t, "v7\n", string(answer), "the version, then the end of the connection")
	require.NoError(t, conn.Close())

	cancel()
	require.NoError(t, <-served)
	_, err = net.Dial("tcp", address)
	assert.Error(t, err, "the port is closed")

	got, err := tcpAddress("127.244.0.3:9898", 9000)
	require.NoError(t, err)
	assert.Equal(t, "127.244.0.3:9000", got)
}

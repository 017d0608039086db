package stack

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// SlackReceiver stands in for a Slack incoming webhook on 127.0.0.1: it keeps every message
// Tranche posts.
type SlackReceiver struct {
	server   *http.Server
	url      string
	mu       sync.Mutex
	messages []SlackMessage
}

// SlackMessage is what the receiver kept of a message: its fallback text and colour.
type SlackMessage struct {
	Text, Color string
}

// StartSlackReceiver listens on a free port of 127.0.0.1.
func StartSlackReceiver() (*SlackReceiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &SlackReceiver{url: "http://" + l.Addr().String() + "/services/T0DEMO/B0DEMO/demo"}
	r.server = &http.Server{Handler: http.HandlerFunc(r.receive)}
	go func() { _ = r.server.Serve(l) }()
	return r, nil
}

func (r *SlackReceiver) receive(w http.ResponseWriter, req *http.Request) {
	var msg struct {
		Text        string `json:"text"`
		Attachments []struct {
			Color string `json:"color"`
		} `json:"attachments"`
	}
	body, _ := io.ReadAll(req.Body)
	if json.Unmarshal(body, &msg) != nil || msg.Text == "" {
		http.Error(w, "invalid_payload", http.StatusBadRequest) // as Slack answers
		return
	}
	kept := SlackMessage{Text: msg.Text}
	if len(msg.Attachments) > 0 {
		kept.Color = msg.Attachments[0].Color
	}
	r.mu.Lock()
	r.messages = append(r.messages, kept)
	r.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

// Messages returns the messages received so far, oldest first.
func (r *SlackReceiver) Messages() []SlackMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]SlackMessage(nil), r.messages...)
}

// WaitQuiet waits until no message has arrived for quiet, or limit has passed, or ctx ends:
// notifications are delivered in the background, a moment after what they tell.
func (r *SlackReceiver) WaitQuiet(ctx context.Context, quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	seen, since := len(r.Messages()), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < quiet {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		if n := len(r.Messages()); n != seen {
			seen, since = n, time.Now()
		}
	}
}

// Close stops the receiver.
func (r *SlackReceiver) Close() error { return r.server.Close() }

// Subscribe creates a Slack NotificationProvider named slack, whose Secret holds the
// receiver's URL, and subscribes ro to everything it says.
func (r *SlackReceiver) Subscribe(ctx context.Context, c client.Client, ro *trancheapi.Rollout) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: "slack-webhook"},
		StringData: map[string]string{"address": r.url},
	}
	provider := &trancheapi.NotificationProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: "slack"},
		Spec: trancheapi.NotificationProviderSpec{
			Type: trancheapi.NotificationSlack, SecretRef: trancheapi.LocalObjectReference{Name: secret.Name}, Channel: "#releases",
		},
	}
	for _, obj := range []client.Object{secret, provider} {
		if err := c.Create(ctx, obj); err != nil {
			return err
		}
	}
	ro.Spec.Notify = []trancheapi.NotificationRef{{ProviderRef: trancheapi.NamespacedObjectReference{Name: provider.Name}}}
	return nil
}

package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Payload is the JSON body POSTed to a Rollout's webhooks. Its fields are the contract with
// the user's endpoints (load testers, gates, chat bots): rename nothing.
type Payload struct {
	// Name is the Rollout's name.
	Name string `json:"name"`
	// Namespace is the Rollout's namespace.
	Namespace string `json:"namespace"`
	// Phase is the Rollout's phase when the call is made, such as Progressing.
	Phase string `json:"phase"`
	// Revision is the pod-template hash of the canary under test.
	Revision string `json:"revision"`
	// Type is the webhook's type, which tells the endpoint why it is called (see
	// trancheapi.WebhookType).
	Type string `json:"type"`
	// Message says what happened: the event, for Event webhooks; the Rollout's status
	// message, for PostRollout and Rollback; empty for gates and analysis calls.
	Message string `json:"message"`
	// Metadata is the webhook's metadata from the Rollout, passed on unchanged.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Body is the payload as the JSON a webhook is POSTed.
func (p Payload) Body() []byte {
	body, _ := json.Marshal(p) // strings and a map of strings always marshal
	return body
}

// maxErrorBody is how much of a refusal's body goes into the error, enough for a gate to say
// why without letting a large error page fill the Rollout's status.
const maxErrorBody = 200

// WebhookError is a webhook's answer other than 2xx. A gate that says no is an answer, not a
// failure to reach it: callers that care tell the two apart with errors.As.
type WebhookError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Body is the start of the answer's body, at most about 200 bytes, valid UTF-8.
	Body string
}

func (e *WebhookError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("webhook answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("webhook answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// CallWebhook POSTs p as JSON to url and returns nil only for a 2xx answer. Anything else is
// an error: a *WebhookError for another status, or the reason no answer came within timeout
// (zero: only ctx bounds the call). A nil client means http.DefaultClient.
func CallWebhook(ctx context.Context, client *http.Client, url string, timeout time.Duration, p Payload) error {
	if client == nil {
		client = http.DefaultClient
	}
	body := p.Body()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Read a little of the rest, so that the connection can serve the next call.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &WebhookError{StatusCode: resp.StatusCode, Body: cleanBody(head)}
}

// cleanBody makes the start of an answer fit for a status message: valid UTF-8 (the cut may
// split a character), on one line.
func cleanBody(b []byte) string {
	return strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "")), " ")
}

package notify_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/notify"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func news(kind notify.Kind) notify.News { return notify.Sample(kind) }

var kinds = notify.Kinds

// slackShape is the part of an incoming webhook message Slack checks.
type slackShape struct {
	Text        string `json:"text"`
	Channel     string `json:"channel"`
	Attachments []struct {
		Color  string `json:"color"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"fields"`
		} `json:"blocks"`
	} `json:"attachments"`
}

func TestSlackMessageOfEachKind(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			data, err := notify.Slack(news(kind), notify.SlackOptions{Channel: "#releases", Username: "tranche", IconEmoji: ":rocket:"})
			require.NoError(t, err)
			var msg slackShape
			require.NoError(t, json.Unmarshal(data, &msg))
			assert.NotEmpty(t, msg.Text, "the fallback text that notifications show")
			assert.Equal(t, "#releases", msg.Channel)
			require.Len(t, msg.Attachments, 1)
			assert.Regexp(t, `^#[0-9a-f]{6}$`, msg.Attachments[0].Color)
			blocks := msg.Attachments[0].Blocks
			require.NotEmpty(t, blocks)
			assert.Equal(t, "header", blocks[0].Type)
			assert.Equal(t, "plain_text", blocks[0].Text.Type, "a header takes plain text only")
			for _, b := range blocks[1:] {
				assert.Equal(t, "section", b.Type)
				assert.True(t, b.Text != nil || len(b.Fields) > 0, "a section needs text or fields")
				assert.LessOrEqual(t, len(b.Fields), 10)
			}
			golden(t, "slack-"+string(kind)+".json", data)
		})
	}
}

func TestSlackColoursBySeverity(t *testing.T) {
	colour := func(kind notify.Kind) string {
		data, err := notify.Slack(news(kind), notify.SlackOptions{})
		require.NoError(t, err)
		var msg slackShape
		require.NoError(t, json.Unmarshal(data, &msg))
		return msg.Attachments[0].Color
	}
	assert.Equal(t, colour(notify.RolledBack), colour(notify.AnalysisFailing))
	assert.Equal(t, colour(notify.RolledBack), colour(notify.Stalled))
	assert.Equal(t, colour(notify.RolledBack), colour(notify.Aborted))
	assert.NotEqual(t, colour(notify.RolledBack), colour(notify.Promoted))
	assert.NotEqual(t, colour(notify.WaitingApproval), colour(notify.Started))
}

func TestTeamsMessageOfEachKind(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			data, err := notify.Teams(news(kind))
			require.NoError(t, err)
			var msg struct {
				Type        string `json:"type"`
				Attachments []struct {
					ContentType string `json:"contentType"`
					Content     struct {
						Type    string           `json:"type"`
						Version string           `json:"version"`
						Body    []map[string]any `json:"body"`
					} `json:"content"`
				} `json:"attachments"`
			}
			require.NoError(t, json.Unmarshal(data, &msg))
			assert.Equal(t, "message", msg.Type)
			require.Len(t, msg.Attachments, 1)
			assert.Equal(t, "application/vnd.microsoft.card.adaptive", msg.Attachments[0].ContentType)
			assert.Equal(t, "AdaptiveCard", msg.Attachments[0].Content.Type)
			require.NotEmpty(t, msg.Attachments[0].Content.Body)
			golden(t, "teams-"+string(kind)+".json", data)
		})
	}
}

func TestWebhookMessage(t *testing.T) {
	data, err := notify.Webhook(news(notify.RolledBack))
	require.NoError(t, err)
	golden(t, "webhook-RolledBack.json", data)
}

// FuzzMessages builds every kind of message from arbitrary names, values and messages: no
// panic, always valid JSON, and Slack's length limits kept.
func FuzzMessages(f *testing.F) {
	f.Add("podinfo", "shop", "99.5", "Step 1/3 passed", "<b>&", 3)
	f.Add("", "", "", "", "", 0)
	f.Add("a\xff\xfeb", "ns", "NaN", string(make([]byte, 5000)), "```", 7)
	f.Fuzz(func(t *testing.T, name, ns, value, message, metric string, step int) {
		for _, kind := range kinds {
			n := news(kind)
			n.Rollout, n.Namespace, n.Message, n.Step = name, ns, message, step
			n.Checks = append(n.Checks, notify.Check{Metric: metric, Value: value, Threshold: "<= 1"})
			for _, build := range []func(notify.News) ([]byte, error){
				func(n notify.News) ([]byte, error) { return notify.Slack(n, notify.SlackOptions{}) },
				notify.Teams, notify.Webhook,
			} {
				data, err := build(n)
				require.NoError(t, err)
				require.True(t, json.Valid(data))
			}
			data, _ := notify.Slack(n, notify.SlackOptions{})
			var msg slackShape
			require.NoError(t, json.Unmarshal(data, &msg))
			require.LessOrEqual(t, utf8.RuneCountInString(msg.Attachments[0].Blocks[0].Text.Text), 150)
			require.NotEmpty(t, msg.Text)
			for _, b := range msg.Attachments[0].Blocks[1:] {
				if b.Text != nil {
					require.LessOrEqual(t, utf8.RuneCountInString(b.Text.Text), 3000)
					require.NotEmpty(t, b.Text.Text, "Slack refuses an empty text")
				}
			}
		}
	})
}

func golden(t *testing.T, name string, data []byte) {
	t.Helper()
	var pretty any
	require.NoError(t, json.Unmarshal(data, &pretty))
	got, err := json.MarshalIndent(pretty, "", "  ")
	require.NoError(t, err)
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to write it")
	assert.Equal(t, string(want), string(got)+"\n")
}

package notify

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Lengths Teams texts are cut to: cards are read at a glance, and a webhook refuses messages
// over about 28 KB.
const (
	teamsTitleMax = 150
	teamsTextMax  = 3000
)

// Teams builds the JSON a Microsoft Teams incoming webhook (or Workflows "post to a channel
// when a webhook request is received") accepts: a message with one Adaptive Card holding a
// title coloured by severity, the controller's message and a fact set.
func Teams(n News) ([]byte, error) {
	color := "Accent"
	switch {
	case n.Kind.Severity() == trancheapi.SeverityError:
		color = "Attention"
	case n.Kind == Promoted:
		color = "Good"
	case n.Kind == WaitingApproval:
		color = "Warning"
	}
	facts := []teamsFact{
		{Title: "Revision", Value: strings.ReplaceAll(revisionChange(n), "`", "")},
		{Title: "Traffic", Value: fmt.Sprintf("canary %d%%, primary %d%%", n.Weight, 100-n.Weight)},
	}
	if len(n.Steps) > 0 {
		facts = append(facts, teamsFact{Title: "Steps", Value: textProgress(n)})
	}
	for _, c := range n.Checks {
		facts = append(facts, teamsFact{Title: c.Metric, Value: fmt.Sprintf("%s (%s): %s", cmp.Or(c.Value, "-"), c.Threshold, verdictOf(c))})
	}
	body := []any{
		teamsText{Type: "TextBlock", Text: cut(headline(n), teamsTitleMax), Weight: "Bolder", Size: "Medium", Color: color, Wrap: true},
		teamsText{Type: "TextBlock", Text: cut(cmp.Or(n.Message, "-"), teamsTextMax), Wrap: true},
		teamsFacts{Type: "FactSet", Facts: facts},
	}
	if n.Kind == WaitingApproval {
		body = append(body, teamsText{Type: "TextBlock", Wrap: true, FontType: "Monospace",
			Text: fmt.Sprintf("kubectl tranche promote %s -n %s\nkubectl tranche abort %s -n %s", n.Rollout, n.Namespace, n.Rollout, n.Namespace)})
	}
	return json.Marshal(map[string]any{
		"type": "message",
		"attachments": []map[string]any{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type":    "AdaptiveCard",
				"version": "1.4",
				"body":    body,
			},
		}},
	})
}

type teamsText struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Weight   string `json:"weight,omitempty"`
	Size     string `json:"size,omitempty"`
	Color    string `json:"color,omitempty"`
	FontType string `json:"fontType,omitempty"`
	Wrap     bool   `json:"wrap"`
}

type teamsFacts struct {
	Type  string      `json:"type"`
	Facts []teamsFact `json:"facts"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// textProgress is the progress line in plain text: [x] passed, [>] current, [ ] to come.
func textProgress(n News) string {
	var parts []string
	for i, label := range n.Steps {
		mark := "[ ]"
		switch {
		case n.Kind == Promoted || i+1 < n.Step:
			mark = "[x]"
		case i+1 == n.Step:
			mark = "[>]"
		}
		parts = append(parts, mark+" "+label)
	}
	return strings.Join(parts, "  ")
}

// webhookNews is the JSON a Webhook provider receives: the news, field by field.
type webhookNews struct {
	Kind      Kind      `json:"kind"`
	Severity  string    `json:"severity"`
	Rollout   string    `json:"rollout"`
	Namespace string    `json:"namespace"`
	Cluster   string    `json:"cluster,omitempty"`
	Title     string    `json:"title"`
	Message   string    `json:"message"`
	Phase     string    `json:"phase"`
	Stable    string    `json:"stableRevision"`
	Canary    string    `json:"canaryRevision"`
	Step      int       `json:"step"`
	Steps     []string  `json:"steps"`
	Weight    int32     `json:"canaryWeight"`
	Checks    []Check   `json:"checks"`
	At        time.Time `json:"at"`
}

// Webhook builds the JSON of the news for a generic webhook.
func Webhook(n News) ([]byte, error) {
	return json.Marshal(webhookNews{
		Kind: n.Kind, Severity: string(n.Kind.Severity()), Rollout: n.Rollout, Namespace: n.Namespace,
		Cluster: n.Cluster, Title: headline(n), Message: n.Message, Phase: string(n.Phase), Stable: n.Stable, Canary: n.Canary, Step: n.Step,
		Steps: n.Steps, Weight: n.Weight, Checks: n.Checks, At: n.At,
	})
}

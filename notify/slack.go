package notify

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Slack's limits on the parts of a message (api.slack.com/reference/block-kit/blocks):
// longer texts are refused, so they are cut.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackFieldMax   = 2000
	slackFallback   = 3000
)

// SlackOptions are a Slack provider's settings for a message.
type SlackOptions struct {
	Channel, Username, IconEmoji string
}

// slackMessage is what an incoming webhook accepts: a text fallback (notifications and
// clients without blocks show it) and one attachment, coloured by severity, holding the
// blocks.
type slackMessage struct {
	Text        string            `json:"text"`
	Channel     string            `json:"channel,omitempty"`
	Username    string            `json:"username,omitempty"`
	IconEmoji   string            `json:"icon_emoji,omitempty"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Color  string       `json:"color"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type   string      `json:"type"`
	Text   *slackText  `json:"text,omitempty"`
	Fields []slackText `json:"fields,omitempty"`
}

type slackText struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// Colours of the attachment bar, by what the news asks of the reader.
const (
	colorProgress = "#1f5fbf"
	colorGood     = "#2eb886"
	colorWaiting  = "#daa038"
	colorBad      = "#d62728"
)

func colorOf(k Kind) string {
	switch {
	case k.Severity() == trancheapi.SeverityError:
		return colorBad
	case k == Promoted:
		return colorGood
	case k == WaitingApproval:
		return colorWaiting
	}
	return colorProgress
}

// titles say in a few words what happened, after the Rollout's name.
var titles = map[Kind]string{
	Started:         "rollout started",
	StepReached:     "step passed",
	WaitingApproval: "waits for approval",
	Promoted:        "promoted",
	RolledBack:      "rolled back",
	Aborted:         "aborted",
	Undone:          "undone",
	AnalysisFailing: "analysis failing",
	DryRunFailing:   "dry run failing",
	Stalled:         "stalled",
}

var icons = map[Kind]string{
	Started:         ":rocket:",
	StepReached:     ":arrow_forward:",
	WaitingApproval: ":raised_hand:",
	Promoted:        ":white_check_mark:",
	RolledBack:      ":rewind:",
	Aborted:         ":stop_button:",
	Undone:          ":rewind:",
	AnalysisFailing: ":warning:",
	DryRunFailing:   ":test_tube:",
	Stalled:         ":no_entry:",
}

// Slack builds the JSON of an incoming webhook message with Block Kit blocks: a header, the
// controller's message, the revision change and traffic, the steps as a progress line, the
// metrics against their thresholds and, when the rollout waits for a person, the commands
// to promote or abort it.
func Slack(n News, opts SlackOptions) ([]byte, error) {
	title := icons[n.Kind] + " " + headline(n)
	blocks := []slackBlock{
		{Type: "header", Text: &slackText{Type: "plain_text", Text: cut(cmp.Or(title, "-"), slackHeaderMax), Emoji: true}},
		{Type: "section", Text: mrkdwn(escapedCut(cmp.Or(n.Message, "-"), slackSectionMax))},
		{Type: "section", Fields: []slackText{
			*mrkdwn("*Revision*\n" + escapedCut(revisionChange(n), slackFieldMax-20)),
			*mrkdwn(fmt.Sprintf("*Traffic*\ncanary %d%%, primary %d%%", n.Weight, 100-n.Weight)),
		}},
	}
	if len(n.Steps) > 0 {
		blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn("*Steps*  " + escapedCut(progress(n), slackSectionMax-20))})
	}
	if len(n.Checks) > 0 {
		// Cut inside the fences, so that the block always ends with them.
		table := strings.ReplaceAll(checksTable(n.Checks), "```", "'''")
		blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn("*Analysis*\n```\n" + escapedCut(table, slackSectionMax-30) + "```")})
	}
	if n.Kind == WaitingApproval {
		blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn(escapedCut(fmt.Sprintf(
			"*Promote* `kubectl tranche promote %s -n %s`\n*Abort* `kubectl tranche abort %s -n %s`",
			n.Rollout, n.Namespace, n.Rollout, n.Namespace), slackSectionMax))})
	}
	return json.Marshal(slackMessage{
		Text:    escapedCut(headline(n)+": "+n.Message, slackFallback),
		Channel: opts.Channel, Username: opts.Username, IconEmoji: opts.IconEmoji,
		Attachments: []slackAttachment{{Color: colorOf(n.Kind), Blocks: blocks}},
	})
}

func mrkdwn(text string) *slackText { return &slackText{Type: "mrkdwn", Text: text} }

// escapeSlack escapes the three characters Slack's mrkdwn gives a meaning to, in every text
// built from data (names, messages, values), code blocks included.
func escapeSlack(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func revisionChange(n News) string {
	switch {
	case n.Canary == "" || n.Canary == n.Stable:
		return "`" + cmp.Or(n.Stable, "-") + "`"
	case n.Kind == RolledBack || n.Kind == Aborted || n.Kind == Undone:
		return "`" + n.Canary + "` → back to `" + cmp.Or(n.Stable, "-") + "`"
	}
	return "`" + cmp.Or(n.Stable, "-") + "` → `" + n.Canary + "`"
}

// progress draws the steps: passed ones ticked, the current one marked (crossed when the
// rollout was rolled back from it).
func progress(n News) string {
	var parts []string
	for i, label := range n.Steps {
		mark := ":white_large_square:"
		switch {
		case n.Kind == Promoted || i+1 < n.Step:
			mark = ":white_check_mark:"
		case i+1 == n.Step && (n.Kind == RolledBack || n.Kind == Aborted):
			mark = ":x:"
		case i+1 == n.Step:
			mark = ":arrow_forward:"
		}
		parts = append(parts, mark+" "+label)
	}
	return strings.Join(parts, "  ")
}

// checksTable lays the checks out in columns, for a preformatted block.
func checksTable(checks []Check) string {
	rows := [][]string{{"metric", "value", "threshold", "verdict"}}
	for _, c := range checks {
		rows = append(rows, []string{c.Metric, cmp.Or(c.Value, "-"), c.Threshold, verdictOf(c)})
	}
	widths := make([]int, 4)
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)+2))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// escapedCut escapes s for mrkdwn and shortens it to at most n characters, never ending in
// the middle of an escape such as &amp;.
func escapedCut(s string, n int) string {
	e := escapeSlack(strings.ToValidUTF8(s, "\uFFFD"))
	if utf8.RuneCountInString(e) <= n {
		return e
	}
	runes := []rune(e)[:n-1]
	if i := lastIndex(runes, '&'); i >= 0 && lastIndex(runes[i:], ';') < 0 {
		runes = runes[:i]
	}
	return string(runes) + "…"
}

func lastIndex(runes []rune, r rune) int {
	for i := len(runes) - 1; i >= 0; i-- {
		if runes[i] == r {
			return i
		}
	}
	return -1
}

// cut shortens s to at most n characters, ending with … when it had more, without
// splitting a character (nor leaving invalid UTF-8, which Slack refuses).
func cut(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n-1]) + "…"
}

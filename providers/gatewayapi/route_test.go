package gatewayapi

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestGatewayDuration(t *testing.T) {
	// Gateway API's duration format (GEP-2257), as its CRDs check it.
	format := regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)
	for d, want := range map[time.Duration]string{
		0:                                     "0s",
		500 * time.Millisecond:                "500ms",
		1500 * time.Millisecond:               "1s500ms",
		90 * time.Second:                      "1m30s",
		2 * time.Hour:                         "2h",
		time.Hour + time.Minute + time.Second: "1h1m1s",
		1234567 * time.Microsecond:            "1s235ms", // rounded to the millisecond
	} {
		got := string(gatewayDuration(d))
		assert.Equal(t, want, got, "%s", d)
		assert.Regexp(t, format, got)
	}
}

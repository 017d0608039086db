// Command grafana prints Tranche's Grafana dashboard (see package config/grafana).
package main

import (
	"fmt"
	"os"

	"github.com/tranche-dev/tranche/config/grafana"
)

func main() {
	d, err := grafana.New()
	if err == nil {
		var out []byte
		if out, err = d.JSON(); err == nil {
			_, err = os.Stdout.Write(out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "grafana:", err)
		os.Exit(1)
	}
}

package main

import (
	"image/color"
	"os"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// timeline is what the clients of one contender's app saw during a release: by half second
// from the edit, the share of the answers the new version gave and the share of requests
// that failed, in percent.
type timeline struct {
	seconds, share, failed []float64
}

// timelineOf turns the load's samples into half-second buckets from the edit.
func timelineOf(samples []sample, edit time.Time, version string) timeline {
	var tl timeline
	const bucket = 500 * time.Millisecond
	for i := 0; i < len(samples); {
		start := samples[i]
		j := i + 1
		for j < len(samples)-1 && samples[j].at.Sub(start.at) < bucket {
			j++
		}
		if j >= len(samples) {
			break
		}
		d := samples[j].counts.Minus(start.counts)
		answered := 0
		for _, n := range d.ByVersion {
			answered += n
		}
		if d.Sent > 0 {
			tl.seconds = append(tl.seconds, samples[j].at.Sub(edit).Seconds())
			tl.share = append(tl.share, 100*float64(d.ByVersion[version])/float64(max(answered, 1)))
			tl.failed = append(tl.failed, 100*float64(d.Failed)/float64(d.Sent))
		}
		i = j
	}
	return tl
}

var (
	shareColor  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	failedColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// writePlot draws one panel per contender, two a row, of its first bad release, on one time
// axis, to an SVG file.
func writePlot(path string, names []string, timelines []timeline) error {
	const width, height = 5 * vg.Inch, 2.8 * vg.Inch
	cols := min(2, len(names))
	rows := (len(names) + cols - 1) / cols
	c := vgsvg.New(width*vg.Length(cols), height*vg.Length(rows))
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 6}
	end, top := 0.0, 10.0
	for _, tl := range timelines {
		for i := range tl.seconds {
			end, top = max(end, tl.seconds[i]), max(top, tl.share[i], tl.failed[i])
		}
	}
	for i, name := range names {
		p := plot.New()
		p.Title.Text = name + ": a release failing 30% of requests"
		p.X.Label.Text = "seconds after the edit"
		p.Y.Label.Text = "% of requests"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, end, 0, top*1.1
		p.Add(plotter.NewGrid())
		tl := timelines[i]
		share, err := line(tl.seconds, tl.share, shareColor)
		if err != nil {
			return err
		}
		failed, err := line(tl.seconds, tl.failed, failedColor)
		if err != nil {
			return err
		}
		p.Add(share, failed)
		p.Legend.Add("answered by the new version", share)
		p.Legend.Add("failed", failed)
		p.Legend.Top = true
		p.Draw(tiles.At(dc, i%cols, i/cols))
	}
	return saveSVG(c, path)
}

func line(x, y []float64, col color.RGBA) (*plotter.Line, error) {
	xys := make(plotter.XYs, len(x))
	for i := range x {
		xys[i] = plotter.XY{X: x[i], Y: y[i]}
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	l.Color, l.Width = col, vg.Points(1.2)
	return l, nil
}

func saveSVG(c *vgsvg.Canvas, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

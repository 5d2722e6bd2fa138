package dashboard

import (
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

//go:embed page.html
var pageHTML string

//go:embed style.css
var stylesheet string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{"count": fleetreport.FormatCount}).Parse(pageHTML))

// page is what page.html renders: the model list (Model empty) or one
// model's report.
type page struct {
	Style     template.CSS
	Refresh   int
	Generated string
	Models    []string
	Model     string
	Since     string
	Periods   []period
	Versions  []versionView
}

// period is a link to the same page over another time range.
type period struct {
	Label, URL string
	Current    bool
}

type versionView struct {
	fleetreport.VersionReport
	Funnel   funnelChart
	Rollback lineChart
	Rates    []rateRow
	Bytes    []string
}

type rateRow struct {
	Name, Text, Exact, Low, High, Numerator, Denominator string
	Reports                                              int64
}

func (h *handler) page(ctx context.Context, q store.Query) (*page, error) {
	p := &page{Style: template.CSS(stylesheet), Refresh: int(h.opts.Refresh / time.Second),
		Generated: h.opts.Now().UTC().Format(time.RFC3339)}
	if q.ModelID == "" {
		models, err := h.st.Models(ctx)
		if err != nil {
			return nil, err
		}
		p.Models = models
		return p, nil
	}
	rep, err := h.src.Report(ctx, q)
	if err != nil {
		return nil, err
	}
	points, err := h.st.Series(ctx, q)
	if err != nil {
		return nil, err
	}
	series := map[string][]fleetreport.SeriesPoint{}
	for _, s := range fleetreport.RollbackSeries(points) {
		series[s.Version] = s.Points
	}
	p.Model, p.Since, p.Periods = q.ModelID, rep.Since, periods(q)
	for _, v := range rep.Versions {
		p.Versions = append(p.Versions, versionView{
			VersionReport: v,
			Funnel:        newFunnel(v.Stages),
			Rollback:      newLineChart(series[v.Version]),
			Rates: []rateRow{rateRowOf("rollback (rolled back / activated)", v.RollbackRate),
				rateRowOf("failure (failed / offered)", v.FailureRate),
				rateRowOf("crash (crash / activated)", v.CrashRate)},
			Bytes: []string{fleetreport.FormatBytes(v.BytesReceived), fleetreport.FormatBytes(v.FullBytes),
				fleetreport.FormatBytes(v.BytesSaved)},
		})
	}
	return p, nil
}

func rateRowOf(name string, r fleetreport.Rate) rateRow {
	x := fleetreport.FormatExact
	return rateRow{Name: name, Text: fleetreport.FormatRate(r), Exact: x(r.Value), Low: x(r.Low), High: x(r.High),
		Numerator: x(r.Numerator), Denominator: x(r.Denominator), Reports: r.Reports}
}

// periods are the time ranges offered as links, the current one marked.
func periods(q store.Query) []period {
	var out []period
	current := q.Since.IsZero()
	for _, p := range []struct{ label, since string }{{"all time", ""}, {"last 24 h", "24h"}, {"last 7 days", "168h"}, {"last 30 days", "720h"}} {
		v := url.Values{"model": {q.ModelID}}
		if q.Version != "" {
			v.Set("version", q.Version)
		}
		if p.since != "" {
			v.Set("since", p.since)
		}
		out = append(out, period{Label: p.label, URL: DashboardPath + "?" + v.Encode(), Current: p.since == "" && current})
	}
	return out
}

// Chart geometry, in SVG user units.
const (
	chartWidth   = 560
	funnelLabelW = 110
	funnelBarW   = 280
	funnelRowH   = 26
	lineLeft     = 56
	lineRight    = 16
	lineTop      = 12
	lineBottom   = 34
	lineHeight   = 200
)

type funnelChart struct {
	Height int
	Bars   []funnelBar
}

// funnelBar is one stage: the rectangle, and the numbers it stands for
// as data attributes (exact) and as text.
type funnelBar struct {
	Kind, Estimate, Text string
	Reports              int64
	Y, TextY             int
	Width, ValueX        string
}

func newFunnel(stages []fleetreport.Stage) funnelChart {
	largest := 0.0
	for _, s := range stages {
		largest = math.Max(largest, s.Estimate)
	}
	c := funnelChart{Height: len(stages)*funnelRowH + 4}
	for i, s := range stages {
		w := 0.0
		if largest > 0 {
			w = funnelBarW * s.Estimate / largest
		}
		y := i*funnelRowH + 2
		c.Bars = append(c.Bars, funnelBar{Kind: s.Kind, Estimate: fleetreport.FormatExact(s.Estimate),
			Text: fmt.Sprintf("%s (%d reports)", fleetreport.FormatCount(s.Estimate), s.Reports), Reports: s.Reports,
			Y: y, TextY: y + 15, Width: coord(w), ValueX: coord(funnelLabelW + w + 6)})
	}
	return c
}

type lineChart struct {
	Points     []linePoint
	Line, Band string
	// YTicks label the vertical axis; XFirst and XLast the hours.
	YTicks        []tick
	XFirst, XLast string
	Bottom        int
}

type tick struct {
	Y, Label string
}

// linePoint is one hour's cumulative rollback rate, exact in its data
// attributes.
type linePoint struct {
	Hour, Value, Low, High, Text string
	Reports                      int64
	X, Y                         string
}

// maxLinePoints bounds the points of a line chart: a version reported on
// for a year has 8,760 hours. The rate is cumulative, so a subset of the
// hours is exact at each hour it keeps.
const maxLinePoints = 240

// thin keeps at most maxLinePoints of points, evenly spaced, the first
// and the last included.
func thin(points []fleetreport.SeriesPoint) []fleetreport.SeriesPoint {
	if len(points) <= maxLinePoints {
		return points
	}
	out := make([]fleetreport.SeriesPoint, 0, maxLinePoints)
	for i := range maxLinePoints {
		out = append(out, points[i*(len(points)-1)/(maxLinePoints-1)])
	}
	return out
}

func newLineChart(points []fleetreport.SeriesPoint) lineChart {
	c := lineChart{Bottom: lineHeight - lineBottom}
	if len(points) == 0 {
		return c
	}
	points = thin(points)
	top := 0.0
	for _, p := range points {
		top = math.Max(top, p.Rate.High)
	}
	top = niceCeiling(top)
	first, last := points[0].Hour, points[len(points)-1].Hour
	span := last.Sub(first).Hours()
	plotW := float64(chartWidth - lineLeft - lineRight)
	plotH := float64(lineHeight - lineTop - lineBottom)
	x := func(h time.Time) float64 {
		if span == 0 {
			return lineLeft + plotW/2
		}
		return lineLeft + plotW*h.Sub(first).Hours()/span
	}
	y := func(v float64) float64 { return lineTop + plotH*(1-v/top) }
	var line, upper, lower []string
	for _, p := range points {
		px := x(p.Hour)
		line = append(line, coord(px)+","+coord(y(p.Rate.Value)))
		upper = append(upper, coord(px)+","+coord(y(p.Rate.High)))
		lower = append([]string{coord(px) + "," + coord(y(p.Rate.Low))}, lower...)
		c.Points = append(c.Points, linePoint{Hour: p.Hour.Format(time.RFC3339), Value: fleetreport.FormatExact(p.Rate.Value),
			Low: fleetreport.FormatExact(p.Rate.Low), High: fleetreport.FormatExact(p.Rate.High),
			Text: p.Hour.Format("2006-01-02 15:04") + ": " + fleetreport.FormatRate(p.Rate), Reports: p.Rate.Reports,
			X: coord(px), Y: coord(y(p.Rate.Value))})
	}
	c.Line = strings.Join(line, " ")
	c.Band = strings.Join(append(upper, lower...), " ")
	for _, f := range []float64{0, 0.5, 1} {
		c.YTicks = append(c.YTicks, tick{Y: coord(y(top * f)), Label: fleetreport.FormatPercent(top * f)})
	}
	c.XFirst, c.XLast = first.Format("2006-01-02 15:04"), last.Format("2006-01-02 15:04")
	return c
}

// niceCeiling is the smallest of 1%, 2%, 5%, 10%, 20%, 50%, 100% at or
// above v: the top of a rate axis.
func niceCeiling(v float64) float64 {
	for _, c := range []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5} {
		if v <= c {
			return c
		}
	}
	return 1
}

func coord(v float64) string { return fmt.Sprintf("%.1f", v) }

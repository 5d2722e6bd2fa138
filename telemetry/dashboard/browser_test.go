package dashboard

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/collector"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// browserProblems collects what a page must not produce: console errors
// and warnings, uncaught exceptions, log entries (failed loads, CSP
// refusals) and securitypolicyviolation events.
type browserProblems struct {
	mu   sync.Mutex
	list []string
}

func (p *browserProblems) add(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, fmt.Sprintf(format, a...))
}

func (p *browserProblems) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p.add("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		p.add("exception: %s", ev.ExceptionDetails.Text)
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
			p.add("log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	}
}

// violations adds the current page's CSP violations.
func (p *browserProblems) violations(ctx context.Context) {
	list, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__violations`))
	if err != nil {
		p.add("reading the CSP violations: %v", err)
	}
	for _, v := range list {
		p.add("CSP violation: %s", v)
	}
}

// recordViolations runs in every page before its own content: it keeps
// the page's CSP violations where the test reads them (the browser runs
// it whatever the page's policy).
const recordViolations = `window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));`

// TestBrowser loads the dashboard of a store with known reports in a real
// headless Chromium and checks what it shows: the funnel bars carry the
// store's numbers and are drawn to scale, the rollback line has the
// store's rate at each hour, the stylesheet applies (the policy's hash is
// right), the page reloads itself and then shows new reports, and nothing
// went wrong in the browser (no console error, no CSP violation, no failed
// load).
func TestBrowser(t *testing.T) {
	st := fleet(t)
	checkBrowser(t, st, func(opts Options) http.Handler { return New(fleetreport.FromStore(st), st, opts) })
}

// TestBrowserCollectorSQLite: the same checks on the dashboard as mrepo
// telemetry serve serves it: mounted by the collector (telemetry/collector)
// over the SQLite store, whose counts and series come from its hourly
// rollup.
func TestBrowserCollectorSQLite(t *testing.T) {
	st := sqliteStore(t)
	fillFleet(t, st)
	checkBrowser(t, st, func(opts Options) http.Handler {
		col, err := collector.New(collector.Options{Store: st, ReadHandler: New(fleetreport.FromStore(st), st, opts), Now: opts.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { col.Close() })
		return col
	})
}

// checkBrowser runs TestBrowser's checks on the dashboard handler that
// serve returns for the options given, over st, which holds fleet's
// reports.
func checkBrowser(t *testing.T, st store.Store, serve func(Options) http.Handler) {
	chromium := backendtest.Chromium(t)
	// Two servers over the same store: one that does not reload during
	// the checks, one that reloads every second.
	now := func() time.Time { return testNow }
	still := httptest.NewServer(serve(Options{Now: now, Refresh: time.Hour}))
	defer still.Close()
	reloading := httptest.NewServer(serve(Options{Now: now, Refresh: time.Second}))
	defer reloading.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-extensions", true))
	defer cancelAlloc()
	problems := &browserProblems{}
	ctx, cancelTab := chromedp.NewContext(ctx, chromedp.WithListener(problems.listen))
	defer cancelTab()

	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: recordViolations})
		return err
	}), chromedp.Navigate(still.URL+"/dashboard?model=detector"), chromedp.WaitVisible(`section.version`))
	if err != nil {
		t.Fatal(err)
	}

	type bar struct {
		Version, Kind, Estimate, Reports string
		Width                            float64
		Fill                             string
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[[]bar](`[...document.querySelectorAll('svg.funnel rect.bar')].map(r => ({
		Version: r.closest('section').dataset.version, Kind: r.dataset.kind, Estimate: r.dataset.estimate,
		Reports: r.dataset.reports, Width: r.getBBox().width, Fill: getComputedStyle(r).fill}))`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bar{}
	for _, b := range bars {
		got[b.Version+" "+b.Kind] = b
	}
	if len(bars) != 2*len(fleetreport.FunnelKinds) {
		t.Fatalf("%d funnel bars, want %d: %+v", len(bars), 2*len(fleetreport.FunnelKinds), bars)
	}
	// The numbers fleet() stored: 12 offers kept at 10%, 10 activations
	// at 10%, 4 rollbacks at 100%; 3 offers of 1.1.0.
	for key, want := range map[string][2]string{
		"1.0.0 offered": {"120", "12"}, "1.0.0 activated": {"100", "10"}, "1.0.0 rolled_back": {"4", "4"},
		"1.0.0 healthy": {"0", "0"}, "1.1.0 offered": {"3", "3"},
	} {
		if b := got[key]; b.Estimate != want[0] || b.Reports != want[1] {
			t.Errorf("%s: bar shows estimate %s of %s reports, want %s of %s", key, b.Estimate, b.Reports, want[0], want[1])
		}
	}
	// Drawn to scale: the widest bar is the largest stage.
	offered, activated := got["1.0.0 offered"], got["1.0.0 activated"]
	if math.Abs(offered.Width-funnelBarW) > 1 || activated.Width < offered.Width*100/120-1 || activated.Width > offered.Width*100/120+1 {
		t.Errorf("bars not to scale: offered %.1f px, activated %.1f px", offered.Width, activated.Width)
	}
	if offered.Fill != "rgb(74, 122, 176)" || got["1.0.0 rolled_back"].Fill != "rgb(192, 80, 77)" {
		t.Errorf("the stylesheet did not apply: fills %q, %q", offered.Fill, got["1.0.0 rolled_back"].Fill)
	}

	type dot struct {
		Hour, Rate, Low, High string
		Y                     float64
	}
	dots, err := chromedp.Run(ctx, chromedp.Evaluate[[]dot](`[...document.querySelectorAll('section[data-version="1.0.0"] svg.rollback circle.dot')].map(c => ({
		Hour: c.dataset.hour, Rate: c.dataset.rate, Low: c.dataset.low, High: c.dataset.high, Y: c.cy.baseVal.value}))`))
	if err != nil {
		t.Fatal(err)
	}
	// Hour 10:00: 60 activations, no rollback; 11:00: 4 of 100.
	if len(dots) != 2 || dots[0].Hour != "2026-12-05T10:00:00Z" || dots[0].Rate != "0" ||
		dots[1].Hour != "2026-12-05T11:00:00Z" || dots[1].Rate != "0.04" || dots[1].Y >= dots[0].Y {
		t.Fatalf("rollback line %+v", dots)
	}
	rep, err := fleetreport.FromStore(st).Report(ctx, store.Query{ModelID: "detector", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	want := rep.Versions[0].RollbackRate
	if dots[1].Low != fleetreport.FormatExact(want.Low) || dots[1].High != fleetreport.FormatExact(want.High) {
		t.Errorf("last point's interval %s-%s, report's %v-%v", dots[1].Low, dots[1].High, want.Low, want.High)
	}
	problems.violations(ctx)
	refresh, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('meta[http-equiv="refresh"]').content`))
	if err != nil || refresh != "3600" {
		t.Errorf("refresh %q, %v", refresh, err)
	}

	// Auto-refresh: the reloading page shows reports stored after it
	// loaded, with nobody touching it.
	if err := chromedp.Do(ctx, chromedp.Navigate(reloading.URL+"/dashboard?model=detector"),
		chromedp.WaitVisible(`rect[data-kind="activated"][data-estimate="100"]`)); err != nil {
		t.Fatal(err)
	}
	fill(t, st, "detector", "1.0.0", telemetry.KindActivated, "", 0, 1, 1000)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`rect[data-kind="activated"][data-estimate="110"]`)); err != nil {
		t.Fatalf("the page did not reload itself with the new report: %v", err)
	}
	// Back on a page that does not reload, to read its violations.
	if err := chromedp.Do(ctx, chromedp.Navigate(still.URL+"/dashboard"), chromedp.WaitVisible(`#models`)); err != nil {
		t.Fatal(err)
	}
	problems.violations(ctx)
	problems.mu.Lock()
	defer problems.mu.Unlock()
	for _, p := range problems.list {
		t.Errorf("browser: %s", p)
	}
}

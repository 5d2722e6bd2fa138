package duration

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseFormat(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"30d", 30 * 24 * time.Hour, "30d"},
		{"36h", 36 * time.Hour, "36h0m0s"},
		{"90m", 90 * time.Minute, "1h30m0s"},
	} {
		d, err := Parse(c.in)
		if err != nil || d != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, d, err, c.want)
		}
		if got := Format(d); got != c.out {
			t.Errorf("Format(%v) = %q, want %q", d, got, c.out)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "1.5d", "soon"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestFormatRemaining(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                "expired",
		-time.Hour:       "expired",
		90 * time.Minute: "1h30m",
		47*time.Hour + 59*time.Minute + 50*time.Second: "48h00m",
		60 * time.Hour: "3d",
	} {
		if got := FormatRemaining(d); got != want {
			t.Errorf("FormatRemaining(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestJSON(t *testing.T) {
	b, err := json.Marshal(Duration(7 * 24 * time.Hour))
	if err != nil || string(b) != `"7d"` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"12h"`), &d); err != nil || time.Duration(d) != 12*time.Hour {
		t.Fatalf("Unmarshal = %v, %v", d, err)
	}
	if err := json.Unmarshal([]byte(`"x"`), &d); err == nil {
		t.Fatal("Unmarshal of a bad duration succeeded")
	}
}

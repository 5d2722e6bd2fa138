package pubkey

import (
	"reflect"
	"testing"
)

func TestMatching(t *testing.T) {
	ids := []string{"0123456789abcdef", "0123456799999999", "fedcba9876543210"}
	for _, c := range []struct {
		s    string
		want []string
	}{
		{"fedcba98", []string{"fedcba9876543210"}},
		{"FEDCBA98", []string{"fedcba9876543210"}},
		{"01234567", []string{"0123456789abcdef", "0123456799999999"}},
		{"012345678", []string{"0123456789abcdef"}},
		{"0123456", nil}, // a prefix shorter than 8 digits names nothing
		{"0123456789abcdef", []string{"0123456789abcdef"}},
		{"aaaaaaaa", nil},
	} {
		if got := Matching(ids, c.s); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Matching(%q) = %v, want %v", c.s, got, c.want)
		}
	}
	if got := Matching([]string{"abc"}, "abc"); !reflect.DeepEqual(got, []string{"abc"}) {
		t.Errorf("a whole short ID: %v", got)
	}
	if got := ShortIDs(ids); !reflect.DeepEqual(got, []string{"01234567", "01234567", "fedcba98"}) {
		t.Errorf("ShortIDs: %v", got)
	}
}

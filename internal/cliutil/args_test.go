package cliutil

import (
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// permuteApp has the shapes of mrepo and mclient: a leaf command with
// value, bool and slice flags, a group (rollout set), and a group with
// flags of its own (mclient tuf).
func permuteApp() *cli.App {
	return &cli.App{Name: "prog", Commands: []*cli.Command{
		{Name: "add-target", Flags: []cli.Flag{
			&cli.StringFlag{Name: "repo"},
			&cli.StringFlag{Name: "passphrase-file"},
			&cli.BoolFlag{Name: "json"},
			&cli.StringSliceFlag{Name: "delta-from"},
			&cli.IntFlag{Name: "keep"},
		}},
		{Name: "rollout", Subcommands: []*cli.Command{
			{Name: "set", Flags: []cli.Flag{&cli.StringFlag{Name: "repo"}, &cli.StringFlag{Name: "percent"}, &cli.BoolFlag{Name: "json"}}},
		}},
		{Name: "tuf", Flags: []cli.Flag{&cli.StringFlag{Name: "metadata-dir"}, &cli.StringSliceFlag{Name: "target-name"}},
			Subcommands: []*cli.Command{{Name: "init"}, {Name: "download"}}},
	}}
}

func TestPermute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		json     bool
	}{
		// Flags before positionals already: unchanged.
		{"add-target --repo R B", "add-target --repo R B", false},
		// A value flag after the positional, with its value.
		{"add-target B --repo R", "add-target --repo R B", false},
		{"add-target B -repo R", "add-target -repo R B", false},
		// --f=v carries its value: the next token is positional.
		{"add-target B --repo=R C", "add-target --repo=R B C", false},
		// A bool flag takes no separate value.
		{"add-target B --json C", "add-target --json B C", true},
		{"add-target B --json=false", "add-target --json=false B", false},
		{"add-target --json=true B", "add-target --json=true B", true},
		// "-" is positional, and a value when a value flag precedes it.
		{"add-target - --repo R", "add-target --repo R -", false},
		{"add-target B --passphrase-file - --json", "add-target --passphrase-file - --json B", true},
		// A value that looks like a flag is still the flag's value.
		{"add-target B --repo --json", "add-target --repo --json B", false},
		// Repeated flags keep their order.
		{"add-target B --delta-from 1 C --delta-from 2", "add-target --delta-from 1 --delta-from 2 B C", false},
		// "--" ends the flags: what follows is positional, even -x.
		{"add-target B -- --repo R", "add-target -- B --repo R", false},
		{"add-target --repo R -- -B", "add-target --repo R -- -B", false},
		// "-" and a digit is a value (a negative number or duration), kept
		// after "--" so that urfave does not read it as a flag.
		{"add-target B -5s --repo R", "add-target --repo R -- B -5s", false},
		{"add-target --repo R -- -5", "add-target --repo R -- -5", false},
		// Unknown flags stay flags (urfave reports them); no value taken.
		{"add-target B --bogus R", "add-target --bogus B R", false},
		// Subcommands: flags after MODEL@VERSION.
		{"rollout set m@1 --repo R --percent 5 --json", "rollout set --repo R --percent 5 --json m@1", true},
		// A group's own flag written after its subcommand moves up.
		{"tuf download --metadata-dir D --target-name a --target-name b", "tuf --metadata-dir D --target-name a --target-name b download", false},
		{"tuf --metadata-dir D init ROOT", "tuf --metadata-dir D init ROOT", false},
		{"tuf init ROOT --metadata-dir D", "tuf --metadata-dir D init ROOT", false},
		// Help anywhere.
		{"add-target B --help", "add-target --help B", false},
		{"rollout set -h", "rollout set -h", false},
		// Unknown commands, and no command: unchanged.
		{"frobnicate --repo R x", "frobnicate --repo R x", false},
		{"rollout frob --repo R", "rollout frob --repo R", false},
		{"", "", false},
		{"--help", "--help", false},
		// --json of the app is no command's.
		{"--json", "--json", false},
	} {
		in := append([]string{"prog"}, strings.Fields(tc.in)...)
		got := permute(permuteApp(), in)
		want := append([]string{"prog"}, strings.Fields(tc.want)...)
		if !slices.Equal(got.args, want) || got.json != tc.json {
			t.Errorf("permute(%q) = %q json=%v, want %q json=%v", tc.in, got.args, got.json, want, tc.json)
		}
	}
}

// TestPermuteParses: the permuted arguments parse as meant (the values
// reach their flags, "--" leaves what follows positional).
func TestPermuteParses(t *testing.T) {
	t.Parallel()
	var repo string
	var args []string
	for _, tc := range []struct {
		in   string
		repo string
		args []string
	}{
		{"add-target B --repo R", "R", []string{"B"}},
		{"add-target B -- --repo R", "", []string{"B", "--repo", "R"}},
		{"add-target --repo R -- -B", "R", []string{"-B"}},
	} {
		repo, args = "", nil
		app := permuteApp() // an App is run once
		app.Commands[0].Action = func(c *cli.Context) error {
			repo, args = c.String("repo"), c.Args().Slice()
			return nil
		}
		if err := app.Run(Permute(app, append([]string{"prog"}, strings.Fields(tc.in)...))); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if repo != tc.repo || !slices.Equal(args, tc.args) {
			t.Errorf("%s: repo %q args %q, want %q %q", tc.in, repo, args, tc.repo, tc.args)
		}
	}
}

package cliutil

import (
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// Flags anywhere: urfave/cli (like package flag) stops reading flags at
// the first positional argument, so `mrepo add-target BUNDLE --repo R`
// would take --repo for a second argument. Permute moves, before the
// parser runs, the flags of the selected command (and subcommand) in
// front of its positional arguments, as git and go users expect.

// parsed is what Permute learns of a command line.
type parsed struct {
	args []string
	// json says the selected command has a --json flag and it is set.
	json bool
}

// level is one command of the path the arguments select (the app first).
type level struct {
	name  string // the command name as written ("" for the app)
	flags []cli.Flag
	subs  []*cli.Command
	out   []string // its flags (with values), in the order given
	json  bool     // its bool flag --json is set
}

// Permute returns args (args[0] is the program) with the flags of each
// selected command moved before that command's positional arguments:
//   - a known flag keeps its value: the next token when the flag takes one
//     and is not written --f=v (so "-" or a word starting with "-" can be a
//     value), none for a bool flag;
//   - a flag of an enclosing command (mclient tuf's --metadata-dir written
//     after "download") moves to that command;
//   - "--" ends the flags: everything after it is positional;
//   - an unknown -x token stays a flag, for urfave/cli to report as a
//     usage error;
//   - "-" alone is positional (stdin, by convention), and so is "-" followed
//     by a digit (a negative number or duration: no flag name starts with
//     a digit); positionals that start with "-" are put after "--".
//
// Arguments that select no known command are left as they are.
func Permute(app *cli.App, args []string) []string { return permute(app, args).args }

func permute(app *cli.App, args []string) parsed {
	if len(args) == 0 {
		return parsed{args: args}
	}
	levels := []*level{{flags: app.Flags, subs: app.Commands}}
	var pos, after []string
	dashdash, verbatim := false, false
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		tok := rest[i]
		cur := levels[len(levels)-1]
		if tok == "--" {
			dashdash, after = true, rest[i+1:]
			break
		}
		if len(tok) > 1 && tok[0] == '-' && !isNegativeNumber(tok) {
			name, hasValue := flagName(tok)
			owner, f := findFlag(levels, name)
			if f == nil {
				cur.out = append(cur.out, tok) // unknown: urfave reports it
				continue
			}
			owner.out = append(owner.out, tok)
			if name == "json" && !takesValue(f) {
				owner.json = !hasValue
				if hasValue {
					_, v, _ := strings.Cut(tok, "=")
					owner.json, _ = strconv.ParseBool(v)
				}
			}
			if !hasValue && takesValue(f) && i+1 < len(rest) {
				i++
				owner.out = append(owner.out, rest[i])
			}
			continue
		}
		if len(pos) == 0 && len(cur.subs) > 0 {
			if sub := findCommand(cur.subs, tok); sub != nil {
				levels = append(levels, &level{name: tok, flags: sub.Flags, subs: sub.Subcommands})
				continue
			}
			// An unknown command (or "help"): leave the rest as it is.
			pos, verbatim = rest[i:], true
			break
		}
		pos = append(pos, tok)
	}
	out := []string{args[0]}
	for _, l := range levels {
		if l.name != "" {
			out = append(out, l.name)
		}
		out = append(out, l.out...)
	}
	leaf := levels[len(levels)-1]
	if dashdash || !verbatim && slices.ContainsFunc(pos, func(p string) bool { return len(p) > 1 && p[0] == '-' }) {
		// "--" keeps a positional such as "-5s" (config set health-timeout
		// -5s) from being read as a flag once it follows the flags.
		out = append(out, "--")
	}
	out = append(out, pos...)
	out = append(out, after...)
	return parsed{args: out, json: len(levels) > 1 && leaf.json}
}

// isNegativeNumber: "-5", "-5s", "-0.5" are values, not flags.
func isNegativeNumber(tok string) bool {
	return len(tok) > 1 && tok[0] == '-' && tok[1] >= '0' && tok[1] <= '9'
}

// flagName is the name in -name, --name, -name=v or --name=v, and whether
// the value is in the token.
func flagName(tok string) (string, bool) {
	name := strings.TrimPrefix(strings.TrimPrefix(tok, "-"), "-")
	name, _, hasValue := strings.Cut(name, "=")
	return name, hasValue
}

// findFlag finds the flag called name on the innermost command that has
// it; help (-h) is every command's bool flag.
func findFlag(levels []*level, name string) (*level, cli.Flag) {
	for i := len(levels) - 1; i >= 0; i-- {
		for _, f := range levels[i].flags {
			for _, n := range f.Names() {
				if n == name {
					return levels[i], f
				}
			}
		}
	}
	if name == "help" || name == "h" {
		return levels[len(levels)-1], cli.HelpFlag
	}
	return nil, nil
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue says whether f reads the next token as its value (every
// flag but a bool flag).
func takesValue(f cli.Flag) bool {
	if v, ok := f.(cli.DocGenerationFlag); ok {
		return v.TakesValue()
	}
	return true
}

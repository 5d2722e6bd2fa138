package cliutil

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// Subcommand sets up cmd, a subcommand of the command group (as in
// "mrepo delta create"), the way every command of ours behaves: a flag
// error or a missing required flag is one line naming "group name" (exit
// 64), and the command takes exactly the positional arguments args names,
// none of them empty (nil: no argument at all).
func Subcommand(prog, group string, required, args []string, cmd *cli.Command) *cli.Command {
	name := group + " " + cmd.Name
	see := " (see " + prog + " " + name + " --help)"
	cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return Usagef("%s: %s%s", name, OneLine(err), see)
	}
	action := cmd.Action
	cmd.Action = func(c *cli.Context) error {
		for _, f := range required {
			if c.String(f) == "" {
				return Usagef("%s: --%s is required%s", name, f, see)
			}
		}
		if args == nil && c.Args().Present() {
			return Usagef("%s: unexpected argument %q%s", name, c.Args().First(), see)
		}
		if args != nil && c.Args().Len() != len(args) {
			return Usagef("%s: expected %d arguments, %s, got %d%s", name, len(args), strings.Join(args, " "), c.Args().Len(), see)
		}
		for i, a := range c.Args().Slice() {
			if a == "" {
				return Usagef("%s: %s is empty", name, args[i])
			}
		}
		return action(c)
	}
	return cmd
}

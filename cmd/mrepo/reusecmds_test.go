package main

import "github.com/edgetuf/edgetuf/internal/scripttest"

func init() { scriptCmds["samefile"] = scripttest.CmdSamefile }

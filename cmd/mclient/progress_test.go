package main

import "github.com/edgetuf/edgetuf/internal/scripttest"

// Scripts lower the size from which long work logs its progress with
// EDGETUF_TEST_PROGRESS_THRESHOLD (scripttest.LowerProgressThreshold).
func init() { scripttest.LowerProgressThreshold() }

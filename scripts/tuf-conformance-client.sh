#!/bin/sh
# The client-under-test of the TUF conformance suite
# (theupdateframework/tuf-conformance): `mclient tuf`, which implements the
# suite's client CLI (--metadata-dir ... init|refresh|download). The suite
# runs this script under faketime; `mclient tuf` reads FAKETIME itself.
#
# MCLIENT names the mclient binary (default: mclient on PATH).
# .ci/conformance.sh builds mclient and runs the suite with this script.
exec "${MCLIENT:-mclient}" tuf "$@"

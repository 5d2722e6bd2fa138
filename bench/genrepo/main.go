// Command genrepo generates a large mrepo repository for the scale
// benchmarks (bench/scale.sh): M models x V versions, each version a
// manifest and one small payload file, in succinct hash bins, signed in
// one publication through the code a migration uses
// (repo.Repository.MigrateBins with MigrateOptions.Import):
//
//	go run ./bench/genrepo -dir /var/tmp/scale -models 1000 -versions 100
//
// It writes DIR/repo and DIR/keys (passphrase $MREPO_PASSPHRASE, or
// bench-only-passphrase), then prints what it made. Every target file is
// real (so mrepo verify checks them all); they are written without fsync,
// as a generator may. Versions are 1.N.0; epochs rise with them.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func main() {
	dir := flag.String("dir", "", "output directory (DIR/repo, DIR/keys; must not exist)")
	models := flag.Int("models", 1000, "number of models")
	versions := flag.Int("versions", 100, "versions per model")
	bins := flag.Int("bins", 0, "number of hash bins (0: chosen by the number of targets)")
	flag.Parse()
	if *dir == "" || *models < 1 || *versions < 1 {
		fmt.Fprintln(os.Stderr, "usage: genrepo -dir DIR [-models M] [-versions V] [-bins N]")
		os.Exit(2)
	}
	if err := generate(*dir, *models, *versions, *bins); err != nil {
		fmt.Fprintln(os.Stderr, "genrepo:", err)
		os.Exit(1)
	}
}

func generate(dir string, models, versions, bins int) error {
	start := time.Now()
	pass := []byte(os.Getenv("MREPO_PASSPHRASE"))
	if len(pass) == 0 {
		pass = []byte("bench-only-passphrase")
	}
	fs := afero.NewOsFs()
	kd := &keys.Dir{FS: fs, Path: filepath.Join(dir, "keys"), Passphrase: func(string, bool) ([]byte, error) { return pass, nil }}
	repoDir := filepath.Join(dir, "repo")
	if _, err := repo.Init(fs, repoDir, kd, repo.InitOptions{}); err != nil {
		return err
	}
	imported := map[string]*metadata.TargetFiles{}
	for m := 0; m < models; m++ {
		id := fmt.Sprintf("model-%04d", m)
		for v := 0; v < versions; v++ {
			if err := addVersion(repoDir, id, fmt.Sprintf("1.%d.0", v), uint64(v+1), imported); err != nil {
				return err
			}
		}
	}
	gen := time.Since(start)
	r, err := repo.Open(fs, repoDir)
	if err != nil {
		return err
	}
	res, err := r.MigrateBins(kd, repo.MigrateOptions{Count: bins, Import: imported})
	if err != nil {
		return err
	}
	fmt.Printf("generated %d models x %d versions: %d targets in %d bins (files %.1f s, signing %.1f s)\n",
		models, versions, res.Moved, res.Bins, gen.Seconds(), (time.Since(start) - gen).Seconds())
	return nil
}

// addVersion writes one version's payload and manifest into the target
// store and adds their targets to out.
func addVersion(repoDir, id, version string, epoch uint64, out map[string]*metadata.TargetFiles) error {
	payload := []byte(fmt.Sprintf("%s %s weights\n", id, version))
	psum := sha256.Sum256(payload)
	size := int64(len(payload))
	m := &targets.Manifest{SchemaVersion: targets.SchemaVersion, ModelID: id, Version: version,
		BuildTimestamp: "2026-12-01T00:00:00Z", Files: []targets.FileEntry{{Path: "model.bin", SHA256: hex.EncodeToString(psum[:]), Size: &size}}}
	pc, err := targets.PayloadCustom(m, "model.bin").Marshal()
	if err != nil {
		return err
	}
	ppath := targets.TargetPath(id, version, "model.bin")
	if err := store(repoDir, ppath, payload); err != nil {
		return err
	}
	out[ppath] = &metadata.TargetFiles{Length: size, Hashes: metadata.Hashes{"sha256": psum[:]}, Custom: pc, Path: ppath}

	mbytes, err := m.MarshalPublished()
	if err != nil {
		return err
	}
	mc := targets.ManifestCustom(m)
	mc.Epoch = epoch
	custom, err := mc.Marshal()
	if err != nil {
		return err
	}
	mpath := targets.ManifestPath(id, version)
	if err := store(repoDir, mpath, mbytes); err != nil {
		return err
	}
	msum := sha256.Sum256(mbytes)
	out[mpath] = &metadata.TargetFiles{Length: int64(len(mbytes)), Hashes: metadata.Hashes{"sha256": msum[:]}, Custom: custom, Path: mpath}
	return nil
}

// store writes a target file under its consistent-snapshot name.
func store(repoDir, targetPath string, data []byte) error {
	sum := sha256.Sum256(data)
	p := filepath.Join(repoDir, repofiles.TargetsDir, filepath.FromSlash(repofiles.ConsistentName(targetPath, sum[:])))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

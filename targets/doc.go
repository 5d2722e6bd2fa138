// Package targets defines what a published model looks like inside a TUF
// repository, for both sides of it: the bundle manifest a release team
// writes, the completed manifest that mrepo publishes, the layout of target
// paths (models/<model_id>/<version>/<file>), the custom metadata carried in
// signed targets metadata, and semantic versions with their ordering.
//
// Everything here is pure data handling with strict validation; it reads
// no files and knows no keys, so the repository tool and the device client
// share one definition of a model.
package targets

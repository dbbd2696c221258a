// Package flaskimport copies an existing deployment of the original Flask
// backend into Partflow: `partflow import-flask` is its command line.
//
// Import reads the Flask SQLite database's parts table (read-only) and
// imports each row through parts.Service.ImportPart with its id and
// timestamps, then uploads its file from the Flask upload folder
// (<uploads>/<id>/<file>) through parts.Service.UploadFile, so every
// upload check applies. What the library's validation refuses is repaired
// by a table of repairs by field (an empty material becomes "(unknown)",
// an unknown status Pending, ...) and reported as a warning; the rules
// themselves stay the library's. Parts whose id exists already are
// skipped, so an import can run again.
package flaskimport

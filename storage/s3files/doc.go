// Package s3files is Partflow's parts.FileStore on S3 and S3-compatible
// object storage (MinIO, Ceph, ...), through gocloud.dev/blob and the AWS
// SDK:
//
//	s3://bucket?endpoint=https://minio.example:9000&region=us-east-1&use_path_style=true
//
// It is a separate package so that programs storing files on disk or in
// memory (storage/blobfiles) compile no cloud SDK. Importing it registers
// the scheme "s3" with storage.RegisterFiles; Open does the same with
// Options. The store itself (spooling, checksums, key checks, errors) is
// blobfiles.Store; this package supplies the bucket, and OpenBucket wraps
// any other gocloud.dev/blob bucket the same way.
//
// s3:// URLs accept the query parameters endpoint (an S3-compatible
// service), region, use_path_style (true for most S3-compatible services),
// anonymous (true: unsigned requests) and profile (a shared AWS config
// profile). Without Options.Credentials the AWS SDK's default credential
// chain is used (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, shared config
// files, instance roles): that is the AWS SDK reading its environment,
// configured by the operator. With Options.Credentials the store is
// hermetic: no environment or shared file is read. Request checksums are
// sent only when the service requires them, which S3-compatible servers
// accept.
//
// A failed or cancelled upload cancels the blob writer's context, so the
// upload is aborted and a previous object at the key is left as it was.
package s3files

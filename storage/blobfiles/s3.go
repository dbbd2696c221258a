package blobfiles

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// S3Credentials is a static S3 access key.
type S3Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken is optional.
	SessionToken string
}

// defaultRegion is used when an s3:// URL names none and no environment
// supplies one; S3-compatible services generally ignore it.
const defaultRegion = "us-east-1"

// openS3 opens s3://bucket?endpoint=...&region=...&use_path_style=true.
func openS3(ctx context.Context, u *url.URL, opts *Options) (*blob.Bucket, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("blobfiles: s3 URL names no bucket (want s3://bucket?...)")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("blobfiles: s3 URL must not have a path (a key prefix is not supported)")
	}
	var (
		endpoint, region, profile string
		pathStyle, anonymous      bool
	)
	for name, values := range u.Query() {
		v := values[len(values)-1]
		var err error
		switch name {
		case "endpoint":
			var eu *url.URL
			if eu, err = url.Parse(v); err == nil && (eu.Scheme != "http" && eu.Scheme != "https" || eu.Host == "") {
				err = fmt.Errorf("want an http or https URL")
			}
			endpoint = v
		case "region":
			region = v
		case "profile":
			profile = v
		case "use_path_style", "s3ForcePathStyle":
			pathStyle, err = strconv.ParseBool(v)
		case "anonymous":
			anonymous, err = strconv.ParseBool(v)
		default:
			return nil, fmt.Errorf("blobfiles: unknown s3 URL parameter %q (known: endpoint, region, use_path_style, anonymous, profile)", name)
		}
		if err != nil {
			return nil, fmt.Errorf("blobfiles: s3 URL parameter %s: %w", name, err)
		}
	}

	var cfg aws.Config
	if opts.S3Credentials != nil || anonymous {
		// Hermetic: nothing is read from the environment or shared files.
		cfg = aws.Config{
			Region:  region,
			Retryer: func() aws.Retryer { return retry.NewStandard() },
		}
		if cfg.Region == "" {
			cfg.Region = defaultRegion
		}
		if anonymous {
			cfg.Credentials = aws.AnonymousCredentials{}
		} else {
			c := opts.S3Credentials
			cfg.Credentials = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
		}
	} else {
		var load []func(*config.LoadOptions) error
		if region != "" {
			load = append(load, config.WithRegion(region))
		}
		if profile != "" {
			load = append(load, config.WithSharedConfigProfile(profile))
		}
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx, load...); err != nil {
			return nil, fmt.Errorf("blobfiles: load AWS configuration: %w", err)
		}
		if cfg.Region == "" {
			cfg.Region = defaultRegion
		}
	}
	// Only send request checksums when an operation requires them: the
	// streaming trailer checksums of newer SDKs are not understood by every
	// S3-compatible server.
	cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	if opts.S3HTTPClient != nil {
		cfg.HTTPClient = opts.S3HTTPClient
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
	})
	b, err := s3blob.OpenBucket(ctx, client, u.Host, &s3blob.Options{
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
	})
	if err != nil {
		return nil, fmt.Errorf("blobfiles: open s3 bucket %q: %w", u.Host, err)
	}
	return b, nil
}

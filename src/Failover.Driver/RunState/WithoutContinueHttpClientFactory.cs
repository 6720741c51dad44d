using Amazon.Runtime;

namespace Failover.Driver.RunState;

/// <summary>The S3 client's connections: a request's body goes with its headers, never after <c>Expect: 100-continue</c>.</summary>
/// <remarks>
/// The SDK asks every PutObject to wait for "100 Continue", and .NET sends the body anyway once a second has passed without
/// an answer. Ceph RGW 16's frontend does not discard a body that arrives after it refused the request unread (a 403): it
/// reads the next request on that kept-alive connection behind those bytes and refuses it (400 or 405; seen here through
/// a relay that delays answers, <c>S3VaultTests</c>). A loaded server answers that late; the objects put here are
/// small. (A PutObjectRequest subclass cannot turn it off: the SDK finds the bucket in a request by its type's name.)
/// </remarks>
public sealed class WithoutContinueHttpClientFactory : HttpClientFactory
{
    public override HttpClient CreateHttpClient(IClientConfig clientConfig)
    {
        // As the SDK's own handler: redirects are the SDK's to follow (S3 answers 301/307 with the bucket's region).
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false };
        var client = new HttpClient(new WithoutContinue(handler));
        if (clientConfig.Timeout is { } timeout) client.Timeout = timeout;
        return client;
    }

    private sealed class WithoutContinue(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.ExpectContinue = false;
            return base.SendAsync(request, cancellationToken);
        }
    }
}

"""The social feed per ticker: posts, comments, likes and sentiment (SocialService)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, FastAPI, Path, Query

from trademesh.social.v1 import social_pb2
from trademesh_gateway.backends import Backends
from trademesh_gateway.identity import CallerDependency
from trademesh_gateway.openapi_docs import error_responses
from trademesh_gateway.routes import API_PREFIX
from trademesh_gateway.routes.params import IsoDateTime, PageTokenParam, SymbolParam
from trademesh_gateway.schemas.social import (
    Comment,
    CommentPage,
    Like,
    NewText,
    Post,
    PostPage,
    Sentiment,
    SentimentBucket,
    SentimentInterval,
)

SOCIAL_PATH = f"{API_PREFIX}/social"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTERVALS: dict[str, int] = {
    "1h": social_pb2.SENTIMENT_INTERVAL_HOUR,
    "1d": social_pb2.SENTIMENT_INTERVAL_DAY,
}
_INTERVAL_NAMES = {value: name for name, value in _INTERVALS.items()}

PostIdParam = Annotated[UUID, Path(description="A post's id (a UUID).")]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]


def _with_retry_after(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error responses of a write (413: the body size limit), where 429 documents its
    Retry-After header."""
    responses = error_responses(413, 429, *statuses)
    responses[429] = {
        **responses[429],
        "description": "Too many writes by this user; retry after `Retry-After` seconds.",
        "headers": {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        },
    }
    return responses


def _timestamp(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _micros(moment: datetime | None) -> int:
    if moment is None:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a time without an offset is taken as UTC
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _post(post: social_pb2.Post) -> Post:
    return Post(
        post_id=post.post_id,
        user_id=post.user_id,
        symbol=post.symbol,
        text=post.text,
        html=post.html,
        cashtags=list(post.cashtags),
        sentiment=post.sentiment,
        like_count=post.like_count,
        comment_count=post.comment_count,
        created_at=_timestamp(post.created_at_us),
    )


def _comment(comment: social_pb2.Comment) -> Comment:
    return Comment(
        comment_id=comment.comment_id,
        post_id=comment.post_id,
        user_id=comment.user_id,
        text=comment.text,
        html=comment.html,
        cashtags=list(comment.cashtags),
        sentiment=comment.sentiment,
        created_at=_timestamp(comment.created_at_us),
    )


def add_social_routes(app: FastAPI, backends: Backends, caller: CallerDependency) -> None:
    CallerId = Annotated[str, Depends(caller)]

    @app.get(
        SOCIAL_PATH + "/{symbol}/posts",
        tags=["social"],
        summary="A ticker's feed, newest first",
        description="Posts made on the ticker and posts mentioning it as `$SYMBOL`. "
        "Paging is by cursor: new posts never shift the pages you have not read yet.",
        responses=error_responses(),
    )
    async def list_posts(
        symbol: SymbolParam, limit: Limit = 20, page_token: PageTokenParam = None
    ) -> PostPage:
        reply = await backends.social.ListPosts(
            social_pb2.ListPostsRequest(symbol=symbol, limit=limit, page_token=page_token or ""),
            timeout=backends.call_timeout,
        )
        return PostPage(
            posts=[_post(post) for post in reply.posts],
            next_page_token=reply.next_page_token or None,
        )

    @app.post(
        SOCIAL_PATH + "/{symbol}/posts",
        tags=["social"],
        status_code=201,
        summary="Post on a ticker",
        description="Also pushed live on the WebSocket channel `posts` of the ticker and of "
        "every ticker it mentions.",
        responses=_with_retry_after(401),
    )
    async def create_post(symbol: SymbolParam, body: NewText, user_id: CallerId) -> Post:
        reply = await backends.social.CreatePost(
            social_pb2.CreatePostRequest(user_id=user_id, symbol=symbol, text=body.text),
            timeout=backends.call_timeout,
        )
        return _post(reply)

    @app.get(
        SOCIAL_PATH + "/posts/{post_id}/comments",
        tags=["social"],
        summary="A post's comments, oldest first",
        responses=error_responses(404),
    )
    async def list_comments(
        post_id: PostIdParam, limit: Limit = 20, page_token: PageTokenParam = None
    ) -> CommentPage:
        reply = await backends.social.ListComments(
            social_pb2.ListCommentsRequest(
                post_id=str(post_id), limit=limit, page_token=page_token or ""
            ),
            timeout=backends.call_timeout,
        )
        return CommentPage(
            comments=[_comment(comment) for comment in reply.comments],
            next_page_token=reply.next_page_token or None,
        )

    @app.post(
        SOCIAL_PATH + "/posts/{post_id}/comments",
        tags=["social"],
        status_code=201,
        summary="Comment on a post",
        responses=_with_retry_after(401, 404),
    )
    async def create_comment(post_id: PostIdParam, body: NewText, user_id: CallerId) -> Comment:
        reply = await backends.social.CreateComment(
            social_pb2.CreateCommentRequest(user_id=user_id, post_id=str(post_id), text=body.text),
            timeout=backends.call_timeout,
        )
        return _comment(reply)

    @app.post(
        SOCIAL_PATH + "/posts/{post_id}/like",
        tags=["social"],
        summary="Like a post (idempotent: liking twice counts once)",
        responses=_with_retry_after(401, 404),
    )
    async def like_post(post_id: PostIdParam, user_id: CallerId) -> Like:
        reply = await backends.social.LikePost(
            social_pb2.LikePostRequest(user_id=user_id, post_id=str(post_id)),
            timeout=backends.call_timeout,
        )
        return Like(
            post_id=reply.post_id, like_count=reply.like_count, newly_liked=reply.newly_liked
        )

    @app.get(
        SOCIAL_PATH + "/{symbol}/sentiment",
        tags=["social"],
        summary="Sentiment of a ticker's feed over time",
        description="Post count and mean VADER score per hour (`1h`, default window the last "
        "24 hours) or per day (`1d`, the last 30 days). Buckets start on the hour or at "
        "midnight UTC.",
        responses=error_responses(),
    )
    async def get_sentiment(
        symbol: SymbolParam,
        interval: Annotated[SentimentInterval, Query(description="Bucket width.")] = "1h",
        start: Annotated[
            IsoDateTime | None, Query(alias="from", description="Window start (ISO 8601).")
        ] = None,
        end: Annotated[
            IsoDateTime | None, Query(alias="to", description="Window end (ISO 8601); default now.")
        ] = None,
    ) -> Sentiment:
        reply = await backends.social.GetSentiment(
            social_pb2.GetSentimentRequest(
                symbol=symbol,
                interval=_INTERVALS[interval],
                from_us=_micros(start),
                to_us=_micros(end),
            ),
            timeout=backends.call_timeout,
        )
        return Sentiment(
            symbol=reply.symbol,
            interval=_INTERVAL_NAMES.get(reply.interval, interval),  # type: ignore[arg-type]
            start=_timestamp(reply.from_us),
            end=_timestamp(reply.to_us),
            post_count=reply.post_count,
            mean_sentiment=reply.mean_sentiment,
            buckets=[
                SentimentBucket(
                    start=_timestamp(bucket.start_us),
                    post_count=bucket.post_count,
                    mean_sentiment=bucket.mean_sentiment,
                    positive_count=bucket.positive_count,
                    negative_count=bucket.negative_count,
                )
                for bucket in reply.buckets
            ],
        )

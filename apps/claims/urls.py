from django.urls import path

from .apis import ClaimDetailApi, ClaimPaymentApi, ClaimSubmitApi, PayerListApi

urlpatterns = [
    path("claims", ClaimSubmitApi.as_view(), name="claim-submit"),
    path("claims/payers", PayerListApi.as_view(), name="claim-payers"),
    path("claims/<id:claim_id>", ClaimDetailApi.as_view(), name="claim-detail"),
    path("claims/<id:claim_id>/payment", ClaimPaymentApi.as_view(), name="claim-payment"),
]

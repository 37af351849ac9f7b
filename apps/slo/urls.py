from django.urls import path

from .apis import AlertmanagerWebhookApi, SloAnnotationsApi, SloDetailApi, SloListApi

urlpatterns = [
    path("alerts/alertmanager", AlertmanagerWebhookApi.as_view(), name="alerts-alertmanager-webhook"),
    path("slo", SloListApi.as_view(), name="slo-list"),
    path("slo-annotations", SloAnnotationsApi.as_view(), name="slo-annotations"),
    path("slo/<slug:name>", SloDetailApi.as_view(), name="slo-detail"),
]

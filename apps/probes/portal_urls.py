from django.urls import path

from .views import sequences_page

urlpatterns = [path("sequences", sequences_page, name="portal-sequences")]
